package connectors

import "testing"

func TestEveryCategoryHasAReadableLabel(t *testing.T) {
	for _, c := range []Category{CategoryConnection, CategoryCredentials, CategoryRateLimit,
		CategoryConfiguration, CategoryTimeout, CategoryNotFound, CategoryInternal} {
		if c.Label() == string(c) {
			t.Errorf("category %q is shown as its code", c)
		}
	}
}
