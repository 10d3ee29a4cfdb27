package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testBox(t *testing.T) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := testBox(t)
	sealed, err := b.Seal([]byte("hunter2"), "source:1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "hunter2") {
		t.Fatalf("sealed value contains the plaintext: %q", sealed)
	}
	got, err := b.Open(sealed, "source:1")
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v; want hunter2", got, err)
	}
	again, _ := b.Seal([]byte("hunter2"), "source:1")
	if again == sealed {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
}

func TestOpenRefuses(t *testing.T) {
	b := testBox(t)
	sealed, _ := b.Seal([]byte("hunter2"), "source:1")
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	tampered := sealed[:len(sealed)-2] + "AA"
	cases := map[string]func() ([]byte, error){
		"other owner": func() ([]byte, error) { return b.Open(sealed, "source:2") },
		"other key":   func() ([]byte, error) { return other.Open(sealed, "source:1") },
		"tampered":    func() ([]byte, error) { return b.Open(tampered, "source:1") },
		"no version":  func() ([]byte, error) { return b.Open(strings.TrimPrefix(sealed, version), "source:1") },
		"not base64":  func() ([]byte, error) { return b.Open("v1:!!!", "source:1") },
		"too short":   func() ([]byte, error) { return b.Open("v1:AAAA", "source:1") },
	}
	for name, open := range cases {
		if _, err := open(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, KeySize)
	for _, s := range []string{hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	if _, err := ParseKey("c2hvcnQ="); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	first, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	second, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(first, second) {
		t.Fatalf("second load gave another key: %v", err)
	}
}

func TestDeriveKeyIsStableAndSeparate(t *testing.T) {
	b := testBox(t)
	a1, a2, c := b.DeriveKey("cookie-hash", 32), b.DeriveKey("cookie-hash", 32), b.DeriveKey("cookie-block", 32)
	if !bytes.Equal(a1, a2) || bytes.Equal(a1, c) || bytes.Equal(a1, b.key) {
		t.Fatal("derived keys must be stable per purpose and differ from each other and the master key")
	}
}
