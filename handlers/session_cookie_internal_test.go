package handlers

import (
	"reflect"
	"testing"

	"github.com/gorilla/securecookie"
)

// The session cookie's values come back as the handlers wrote them, and a cookie
// written with gob by an earlier version is still read (nobody is signed out by an
// upgrade); values of another shape are refused rather than lost on the way.
func TestSessionSerializer(t *testing.T) {
	values := map[any]any{sessID: "token", sessCSRF: "csrf-token", "_flash": []any{"ok|Saved.", "error|Not quite."}}
	for name, codec := range map[string]securecookie.Serializer{"json": sessionSerializer{}, "gob (before)": securecookie.GobEncoder{}} {
		raw, err := codec.Serialize(values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[any]any{}
		if err := (sessionSerializer{}).Deserialize(raw, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, values) {
			t.Errorf("%s: read back %#v, want %#v", name, got, values)
		}
	}
	for _, bad := range []map[any]any{{1: "x"}, {"n": 1}, {"_flash": []any{1}}} {
		if _, err := (sessionSerializer{}).Serialize(bad); err == nil {
			t.Errorf("Serialize(%v) = nil error", bad)
		}
	}
	if err := (sessionSerializer{}).Deserialize([]byte(`{"n": 1}`), &map[any]any{}); err == nil {
		t.Error(`Deserialize({"n": 1}) = nil error`)
	}
}
