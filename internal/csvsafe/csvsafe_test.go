package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"

	"sluice/internal/csvsafe"
)

func TestCell(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"k00001", "k00001"},
		{"ada@example.com", "ada@example.com"},
		{"42", "42"},
		{" =1+1", " =1+1"}, // a leading space is text to every spreadsheet
		{"'already quoted", "'already quoted"},
		{"=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-2+3", "'-2+3"},
		{"-5", "'-5"},
		{"@SUM(1)", "'@SUM(1)"},
		{"\tcmd", "'\tcmd"},
		{"\r=1", "'\r=1"},
		{"a=b", "a=b"},
		{"ünïcode", "ünïcode"},
	}
	for _, c := range cases {
		if got := csvsafe.Cell(c.in); got != c.want {
			t.Errorf("Cell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Every cell of every record is neutralised, embedded quotes are doubled, and the file
// reads back as the neutralised cells.
func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	rec := []string{`=HYPERLINK("http://evil")`, "@SUM(1)", "-2+3", "plain, with a comma"}
	if err := w.WriteAll([][]string{{"key", "message", "sum", "note"}, rec}); err != nil {
		t.Fatal(err)
	}
	if rec[0] != `=HYPERLINK("http://evil")` {
		t.Error("Write changed the caller's record")
	}
	want := "key,message,sum,note\n" + `"'=HYPERLINK(""http://evil"")",'@SUM(1),'-2+3,"plain, with a comma"` + "\n"
	if buf.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", buf.String(), want)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[1], []string{`'=HYPERLINK("http://evil")`, "'@SUM(1)", "'-2+3", "plain, with a comma"}) {
		t.Errorf("read back %q", rows[1])
	}
}
