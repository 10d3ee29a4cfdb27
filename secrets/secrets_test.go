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

func TestPreviousKeysOpenButNeverSeal(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	oldBox, _ := New(oldKey)
	newBox, _ := New(newKey)
	ring, err := New(append(append([]byte(nil), newKey...), oldKey...))
	if err != nil {
		t.Fatal(err)
	}
	underOld, _ := oldBox.Seal([]byte("hunter2"), "source:1")
	if got, err := ring.Open(underOld, "source:1"); err != nil || string(got) != "hunter2" {
		t.Fatalf("the ring does not open a value of its previous key: %q, %v", got, err)
	}
	if _, err := ring.Open(underOld, "source:2"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a previous key opened a value for another owner: %v", err)
	}
	sealed, _ := ring.Seal([]byte("hunter2"), "source:1")
	if _, err := oldBox.Open(sealed, "source:1"); !errors.Is(err, ErrDecrypt) {
		t.Fatal("the ring sealed with its previous key")
	}
	if got, err := newBox.Open(sealed, "source:1"); err != nil || string(got) != "hunter2" {
		t.Fatalf("the ring's seal does not open under the new key alone: %q, %v", got, err)
	}
	if !bytes.Equal(ring.DeriveKey("session-hash", 64), newBox.DeriveKey("session-hash", 64)) {
		t.Fatal("a ring derives from another key than its current one")
	}

	derived := ring.DeriveKeys("session-hash", 64)
	if len(derived) != 2 || !bytes.Equal(derived[0], newBox.DeriveKey("session-hash", 64)) || !bytes.Equal(derived[1], oldBox.DeriveKey("session-hash", 64)) {
		t.Fatal("DeriveKeys does not give the current key's sub-key, then the previous one's")
	}

	withPrev, err := newBox.WithPrevious(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newBox.Open(underOld, "source:1"); !errors.Is(err, ErrDecrypt) {
		t.Fatal("WithPrevious changed the box it was called on")
	}
	for name, tc := range map[string]struct {
		sealed  string
		current bool
		changed bool
	}{
		"under the old key": {underOld, false, true},
		"under the new key": {sealed, true, false},
	} {
		current, err := withPrev.Current(tc.sealed, "source:1")
		if err != nil || current != tc.current {
			t.Errorf("%s: Current = %v, %v; want %v", name, current, err, tc.current)
		}
		out, changed, err := withPrev.Reseal(tc.sealed, "source:1")
		if err != nil || changed != tc.changed {
			t.Fatalf("%s: Reseal changed = %v, %v; want %v", name, changed, err, tc.changed)
		}
		if !changed && out != tc.sealed {
			t.Errorf("%s: a value already under the new key was sealed again", name)
		}
		if got, err := newBox.Open(out, "source:1"); err != nil || string(got) != "hunter2" {
			t.Errorf("%s: the resealed value does not open under the new key alone: %q, %v", name, got, err)
		}
	}
	other, _ := New(bytes.Repeat([]byte{3}, KeySize))
	foreign, _ := other.Seal([]byte("x"), "source:1")
	if _, _, err := withPrev.Reseal(foreign, "source:1"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Reseal of a value no key opens: %v, want ErrDecrypt", err)
	}
	if _, err := withPrev.Current(foreign, "source:1"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Current of a value no key opens: %v, want ErrDecrypt", err)
	}
}

func TestParseKeyRing(t *testing.T) {
	newKey, oldKey := bytes.Repeat([]byte{0xAB}, KeySize), bytes.Repeat([]byte{0xCD}, KeySize)
	want := append(append([]byte(nil), newKey...), oldKey...)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(newKey) + "," + hex.EncodeToString(oldKey),
		" " + base64.StdEncoding.EncodeToString(newKey) + " , " + base64.StdEncoding.EncodeToString(oldKey) + "\n",
		base64.StdEncoding.EncodeToString(newKey) + "\n" + base64.StdEncoding.EncodeToString(oldKey) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseKey(%q) = %x, %v; want the new key then the old", s, got, err)
		}
	}
	for _, s := range []string{"", " , ", base64.StdEncoding.EncodeToString(newKey) + ",c2hvcnQ="} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted a ring with a bad or no key", s)
		}
	}
	if _, err := New(make([]byte, KeySize+1)); err == nil {
		t.Error("New accepted a key ring of 33 bytes")
	}
}
