package handlers

import (
	"net/url"
	"testing"
)

// TestSafeNext feeds safeNext the forms a browser would turn into another origin, and
// checks each falls back to the default, while plain paths of Sluice are kept.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	refused := []string{
		"",
		"//evil.example",
		"///evil.example",
		"/\\evil.example",
		"\\\\evil.example",
		"\\/evil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		"/\r\n/evil.example",
		"\t//evil.example",
		"/\\\t\\evil.example",
		"  //evil.example",
		" \x00//evil.example",
		"\x01/\\evil.example",
		"https://evil.example",
		"HTTPS://evil.example/",
		"http:evil.example",
		"https:/evil.example",
		"//user:pass@evil.example",
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"java\tscript:alert(1)",
		" javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"evil.example",
		"activations",
		"./activations",
		"?next=//evil.example",
		"#//evil.example",
		"/.//evil.example",
		"/./\\evil.example",
		"/%2e//evil.example",
		"/%2E%2E//evil.example",
		"/..//evil.example",
		"/a/../..//evil.example",
		"/activations/..\\..\\/evil.example",
		"/a\x00b",
		"/a\x7fb",
	}
	for _, next := range refused {
		if got := safeNext(next); got != "" {
			t.Errorf("safeNext(%q) = %q, want it refused", next, got)
		}
	}

	kept := []struct{ next, want string }{
		{"/activations", "/activations"},
		{"/activations/01J?tab=runs#latest", "/activations/01J?tab=runs#latest"},
		{"/runs/1/issues?next=//evil.example", "/runs/1/issues?next=//evil.example"},
		// Percent-encoded slashes stay in the path: a browser does not decode them.
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"},
		{"/%5Cevil.example", "/%5Cevil.example"},
		{"/%09/evil.example", "/%09/evil.example"},
		// Controls and spaces around the path are what a browser drops too.
		{"  /activations ", "/activations"},
		{"/activ\tations", "/activations"},
		// A backslash in the path is a slash to a browser; in the query it is not.
		{"/settings\\users", "/settings/users"},
		{"/segments?q=a\\\\b", "/segments?q=a\\\\b"},
		{"/a b", "/a%20b"},
		{"/sources/./new", "/sources/./new"},
		{"/javascript:alert(1)", "/javascript:alert(1)"},
	}
	for _, tc := range kept {
		got := safeNext(tc.next)
		if got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
			continue
		}
		// Resolved as a browser resolves a Location, it stays on Sluice's origin.
		base, _ := url.Parse("https://sluice.example/login")
		ref, err := url.Parse(got)
		if err != nil {
			t.Errorf("safeNext(%q) = %q, not a URL: %v", tc.next, got, err)
			continue
		}
		if to := base.ResolveReference(ref); to.Scheme != "https" || to.Host != "sluice.example" {
			t.Errorf("safeNext(%q) = %q leads to %s", tc.next, got, to)
		}
	}
}
