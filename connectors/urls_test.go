package connectors

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://user:pass@hooks.example.com/x?token=abc&x=1", "https://***:***@hooks.example.com/x?token=***&x=***"},
		{"https://tok-only@hooks.example.com/x", "https://***@hooks.example.com/x"},
		{"https://:pw@hooks.example.com", "https://***:***@hooks.example.com"},
		{"http://127.0.0.1:8080/in?SECRETVALUE", "http://127.0.0.1:8080/in?***"},
		{"https://h.example/in?a=&b=2", "https://h.example/in?a=&b=***"},
		{"https://h.example/in#access_token=xyz", "https://h.example/in#***"},
		{"https://[::1]:8443/in?k=v", "https://[::1]:8443/in?k=***"},
		{"  https://u:p@h.example/a%20b?k=v  ", "https://***:***@h.example/a%20b?k=***"},
		// Nothing secret: as given.
		{"https://hooks.example.com/sluice", "https://hooks.example.com/sluice"},
		{"https://hooks.example.com/sluice?", "https://hooks.example.com/sluice?"},
		// Unparsable: everything up to the last @ and the query go.
		{"http://user:pa ss@host/%zz?token=abc", "http://***@host/%zz?***"},
		{"http://user:pa/ss@host:bad/x", "http://***@host:bad/x"},
	} {
		got := MaskURL(c.in)
		if got != c.want {
			t.Errorf("MaskURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := MaskURL(got); again != got {
			t.Errorf("MaskURL is not idempotent on %q: %q", got, again)
		}
		for _, secret := range []string{"pass", "abc", "SECRETVALUE", "xyz", "pa ss", "pa/ss", "user:", "tok-only", "pw@"} {
			if strings.Contains(got, secret) {
				t.Errorf("MaskURL(%q) = %q still holds %q", c.in, got, secret)
			}
		}
	}
}

func TestURLHasSecretsAndIsMasked(t *testing.T) {
	for _, c := range []struct {
		in             string
		secrets, masks bool
	}{
		{"https://user:pass@h.example/x", true, false},
		{"https://h.example/x?token=abc", true, false},
		{"https://h.example/x#frag", true, false},
		{"https://h.example/x", false, false},
		{"https://h.example/x?", false, false},
		{"localhost:5432", false, false},
		{"db.internal", false, false},
		{"/var/data/warehouse.db", false, false},
		{"Bearer abc?x", false, false},
		{"postgres://u:p@db/x", true, false},
		{"http://u:p ss@h/%zz", true, false},
		{"https://***:***@h.example/x?token=***&x=***", true, true},
		{"https://***@h.example/x", true, true},
		{"https://h.example/x?token=***", true, true},
		{"https://h.example/x?***", true, true},
		{"https://h.example/x#***", true, true},
		{"https://user:***@other.example/x", true, true},
	} {
		if got := URLHasSecrets(c.in); got != c.secrets {
			t.Errorf("URLHasSecrets(%q) = %v", c.in, got)
		}
		if got := URLIsMasked(c.in); got != c.masks {
			t.Errorf("URLIsMasked(%q) = %v", c.in, got)
		}
	}
}

func TestMaskURLsInText(t *testing.T) {
	in := `Post "https://user:***@127.0.0.1:9/in?token=abc&x=1": dial tcp 127.0.0.1:9: connect: connection refused; see postgres://u:secretpw@db/x and https://plain.example/ok.`
	got := MaskURLs(in)
	want := `Post "https://***:***@127.0.0.1:9/in?token=***&x=***": dial tcp 127.0.0.1:9: connect: connection refused; see postgres://***:***@db/x and https://plain.example/ok.`
	if got != want {
		t.Errorf("MaskURLs:\n got %s\nwant %s", got, want)
	}
	if s := "no URL here: user:pass"; MaskURLs(s) != s {
		t.Errorf("MaskURLs changed text without a URL")
	}
}

// A masked URL sent back where no stored URL can stand behind it is refused, naming the
// field; a URL with real credentials passes.
func TestValidateRefusesMaskedURL(t *testing.T) {
	fields := []FieldSpec{{Name: "url", Label: "URL", Type: FieldString, Required: true}}
	err := Config{"url": "https://***:***@h.example/x"}.Validate(fields)
	if ce, ok := AsError(err); !ok || ce.Field != "url" || !strings.Contains(ce.Message, "***") {
		t.Fatalf("masked URL: %v", err)
	}
	if err := (Config{"url": "https://u:p@h.example/x?t=1"}).Validate(fields); err != nil {
		t.Fatalf("full URL: %v", err)
	}
}
