package models

import (
	"errors"
	"strings"
	"testing"
)

// A name is one line of printable text: control characters are refused at the store,
// whoever calls it (the HTTP layer refuses NUL earlier, in every input).
func TestValidName(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Newsletter", "Newsletter", true},
		{"  Customers → CRM  ", "Customers → CRM", true},
		{"Ünïcode & émoji 🚀", "Ünïcode & émoji 🚀", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("a", 101), "", false},
		{"bad\x00name", "", false},
		{"bad\x01name", "", false},
		{"two\nlines", "", false},
		{"tab\there", "", false},
		{"del\x7f", "", false},
		{"c1\u0085control", "", false},
	}
	for _, c := range cases {
		got, err := validName(c.in)
		var fe *FieldError
		switch {
		case c.ok && (err != nil || got != c.want):
			t.Errorf("validName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case !c.ok && (!errors.As(err, &fe) || fe.Field != "name" || fe.Message == ""):
			t.Errorf("validName(%q) = %q, %v; want an error on name", c.in, got, err)
		}
	}
}
