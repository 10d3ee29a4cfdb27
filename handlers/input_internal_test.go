package handlers

import "testing"

// The walk names the first key or string holding NUL in API.md's notation, and finds
// nothing in text that only looks like an escape.
func TestJSONNULField(t *testing.T) {
	cases := []struct {
		body, field string
		found       bool
	}{
		{`{"name": "ok"}`, "", false},
		{`{"name": "a\\u0000b"}`, "", false}, // a backslash, then "u0000"
		{`{"name": "a\u0000b"}`, "name", true},
		{`{"na\u0000me": 1}`, "na\x00me", true},
		{`{"config": {"url": "x", "headers": {"X-A": "b\u0000"}}}`, "config.headers.X-A", true},
		{`{"mappings": [{"from": "a", "to": "b"}, {"from": "c\u0000"}]}`, "mappings[1].from", true},
		{`{"a": [1, 2.5e400, true, null, {"b": ["x", "\u0000"]}]}`, "a[4].b[1]", true},
		{`{"a": {"b": 1}, "c": "\u0000"}`, "c", true},
		{`["\u0000"]`, "[0]", true},
		{`"\u0000"`, "", true},
		{"{\"name\": \"raw\x00\"}", "name", true},
		{"{\"x\": {\"k\x00\": 1}}", "x", true},
		{"\x00", "", true},
		{`{"name": "not json`, "", false}, // left to the handler's own 400
	}
	for _, c := range cases {
		field, found := jsonNULField([]byte(c.body))
		if field != c.field || found != c.found {
			t.Errorf("jsonNULField(%q) = %q, %v; want %q, %v", c.body, field, found, c.field, c.found)
		}
	}
	if err := nulError("na\x00me").(*inputError); err.Field != `na\u0000me` || err.Message != `The field "na\u0000me" contains a NUL character, which Sluice does not accept. Remove it and try again.` {
		t.Errorf("nulError: %+v", err)
	}
	if err := nulError("").(*inputError); err.Field != "body" {
		t.Errorf("nulError(\"\"): %+v", err)
	}
}
