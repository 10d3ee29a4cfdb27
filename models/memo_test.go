package models

import "testing"

// Decoded JSON columns are remembered per value, so what a caller gets must be its own:
// changing one activation's mappings or action settings must not change what the next
// activation with the same stored JSON decodes to.
func TestDecodedColumnsAreCopies(t *testing.T) {
	a := Activation{MappingsJSON: `[{"from":"email","to":"email","type":"email"}]`, SettingsJSON: `{"action":{"list":"42"}}`}
	m, s := a.Mappings(), a.Settings()
	m[0].To = "changed"
	s.Action["list"] = "changed"
	b := Activation{MappingsJSON: a.MappingsJSON, SettingsJSON: a.SettingsJSON}
	if got := b.Mappings()[0].To; got != "email" {
		t.Errorf("mappings decoded again: to = %q, want email", got)
	}
	if got := b.Settings().Action["list"]; got != "42" {
		t.Errorf("settings decoded again: list = %q, want 42", got)
	}
}
