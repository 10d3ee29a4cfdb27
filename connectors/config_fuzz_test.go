package connectors

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
)

// fuzzFields is a spec with every field type and every rule Validate applies: required,
// defaults, select options, whole numbers, secrets and a URL whose credentials may be
// masked.
func fuzzFields(option, def string) []FieldSpec {
	return []FieldSpec{
		{Name: "host", Label: "Host", Type: FieldString, Required: true},
		{Name: "port", Label: "Port", Type: FieldInt, Default: "5432"},
		{Name: "sslmode", Label: "SSL mode", Type: FieldSelect, Options: []string{"require", "disable", option}, Default: "require"},
		{Name: "region", Label: "Region", Type: FieldSelect, Options: []string{"eu", "us"}},
		{Name: "password", Label: "Password", Type: FieldPassword, Secret: true, Required: true},
		{Name: "url", Label: "URL", Type: FieldString},
		{Name: "secret_url", Label: "Secret URL", Type: FieldString, Secret: true},
		{Name: "headers", Label: "Headers", Type: FieldText, Secret: true},
		{Name: "batch", Label: "Batch", Type: FieldInt, Default: def},
		{Name: "flag", Label: "Flag", Type: FieldBool},
	}
}

// FuzzConfigValidate validates arbitrary configs: nothing panics, a refusal is a
// configuration *Error on a field of the spec with a message, and an accepted config
// keeps every rule — required fields filled, defaults in place, options among the
// spec's, numbers whole — and is accepted again. Keys the spec does not name are left
// alone.
func FuzzConfigValidate(f *testing.F) {
	type seed struct{ host, port, sslmode, password, url, batch, k, v, option, def string }
	for _, s := range []seed{
		{"db.example", "5432", "require", "pw", "", "", "", "", "verify-full", "500"},
		{"db.example", "", "", "pw", "https://user:pw@h.example/x?token=1", "10", "extra", "kept", "", ""},
		{"", "", "", "", "", "", "", "", "", ""},
		{"db.example", "54x", "", "pw", "", "", "", "", "", ""},
		{"db.example", "007", "prefer", "pw", "", "", "", "", "prefer", "lots"},
		{"db.example", "-1", "", "pw", "https://user:***@h.example/x", "", "", "", "", ""},
		{"db.example", "+5", "", "pw", "https://h.example/x?***", "1e3", "", "", "", "-0"},
		{"db.example", " 5", "", "pw", "postgres://u:%2A%2A%2A@h/db", "99999999999999999999", "", "", "", ""},
		{"db.example", "", "", "pw", "***", "", "region", "mars", "", ""},
	} {
		f.Add(s.host, s.port, s.sslmode, s.password, s.url, s.batch, s.k, s.v, s.option, s.def)
	}
	f.Fuzz(func(t *testing.T, host, port, sslmode, password, url, batch, k, v, option, def string) {
		fields := fuzzFields(option, def)
		cfg := Config{"host": host, "port": port, "sslmode": sslmode, "password": password, "url": url,
			"secret_url": url, "batch": batch, k: v}
		before := maps.Clone(cfg)
		err := cfg.Validate(fields)
		named := map[string]bool{}
		for _, fs := range fields {
			named[fs.Name] = true
		}
		for key, was := range before {
			if !named[key] && cfg[key] != was {
				t.Fatalf("Validate changed %q, which the spec does not name: %q → %q", key, was, cfg[key])
			}
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !named[ce.Field] || ce.Category != CategoryConfiguration || ce.Message == "" || ce.Retryable {
				t.Fatalf("Validate(%q) = %v (%T), want a configuration *Error on a field of the spec", before, err, err)
			}
			return
		}
		for _, fs := range fields {
			got := cfg[fs.Name]
			switch {
			case fs.Required && got == "":
				t.Fatalf("required %s accepted empty: %q", fs.Name, cfg)
			case before[fs.Name] == "" && fs.Default != "" && got != fs.Default:
				t.Fatalf("%s is %q, want its default %q", fs.Name, got, fs.Default)
			case fs.Type == FieldSelect && got != "" && !slices.Contains(fs.Options, got):
				t.Fatalf("%s accepted %q, not among %q", fs.Name, got, fs.Options)
			case !fs.Secret && URLIsMasked(got):
				t.Fatalf("%s accepted the masked URL %q", fs.Name, got)
			}
			if fs.Type == FieldInt && got != "" {
				if n, err := strconv.Atoi(got); err != nil || strconv.Itoa(n) != got {
					t.Fatalf("%s accepted %q, not a whole number", fs.Name, got)
				}
			}
		}
		accepted := maps.Clone(cfg)
		if err := cfg.Validate(fields); err != nil || !maps.Equal(cfg, accepted) {
			t.Fatalf("an accepted config %q is refused (%v) or changed (%q) the second time", accepted, err, cfg)
		}
	})
}
