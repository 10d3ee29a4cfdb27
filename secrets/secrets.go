// Package secrets seals credentials at rest with AES-256-GCM. Every warehouse password,
// API key and OAuth token goes through a Box before it reaches the database.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the length of the master key: AES-256.
const KeySize = 32

// version prefixes each sealed value so the format can change without guessing.
const version = "v1:"

// ErrDecrypt means a sealed value was tampered with, belongs to another owner, or was
// sealed under another key.
var ErrDecrypt = errors.New("secrets: cannot decrypt (wrong key, wrong owner or corrupted value)")

// Box seals and opens values under one master key. While the key is being changed it
// also holds the keys it replaces: they still open the values sealed before (by this
// instance or by another not restarted yet), but nothing is sealed with them.
type Box struct {
	aead     cipher.AEAD
	previous []cipher.AEAD
	key      []byte
	oldKeys  [][]byte // the previous keys, in the order of previous
}

// New returns a Box for a 32-byte key, or for a key ring as ParseKey reads "new,old":
// the first KeySize bytes are the key that seals, each next KeySize bytes a previous key
// that only opens.
func New(key []byte) (*Box, error) {
	if len(key) == 0 || len(key)%KeySize != 0 {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	aead, err := newAEAD(key[:KeySize])
	if err != nil {
		return nil, err
	}
	b := &Box{aead: aead, key: append([]byte(nil), key[:KeySize]...)}
	return b, b.addPrevious(key[KeySize:])
}

// WithPrevious returns a Box that seals as b does and also opens what the keys of ring
// (one key, or several as New takes them) sealed: how a rotation reads the values it
// re-seals. b itself is unchanged.
func (b *Box) WithPrevious(ring []byte) (*Box, error) {
	if len(ring) == 0 || len(ring)%KeySize != 0 {
		return nil, fmt.Errorf("secrets: previous key must be %d bytes, got %d", KeySize, len(ring))
	}
	out := &Box{aead: b.aead, previous: append([]cipher.AEAD(nil), b.previous...), key: b.key,
		oldKeys: append([][]byte(nil), b.oldKeys...)}
	return out, out.addPrevious(ring)
}

func (b *Box) addPrevious(ring []byte) error {
	for ; len(ring) >= KeySize; ring = ring[KeySize:] {
		aead, err := newAEAD(ring[:KeySize])
		if err != nil {
			return err
		}
		b.previous = append(b.previous, aead)
		b.oldKeys = append(b.oldKeys, append([]byte(nil), ring[:KeySize]...))
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return aead, nil
}

// Seal encrypts plaintext with a fresh random nonce, under the current key. owner (e.g.
// "source:<id>") is bound as additional data, so a ciphertext copied onto another row
// will not open there.
func (b *Box) Seal(plaintext []byte, owner string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(owner))
	return version + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal for the same owner, under the current key or a
// previous one.
func (b *Box) Open(sealed, owner string) ([]byte, error) {
	pt, _, err := b.open(sealed, owner)
	return pt, err
}

// Current reports whether sealed opens under the current key; false means it opens only
// under a previous one. ErrDecrypt means no key of the box opens it.
func (b *Box) Current(sealed, owner string) (bool, error) {
	_, current, err := b.open(sealed, owner)
	return current, err
}

// Reseal returns sealed as the current key seals it: unchanged (and false) when it is
// already, a new seal of the same plaintext for the same owner (and true) when only a
// previous key opens it.
func (b *Box) Reseal(sealed, owner string) (string, bool, error) {
	pt, current, err := b.open(sealed, owner)
	if err != nil || current {
		return sealed, false, err
	}
	out, err := b.Seal(pt, owner)
	return out, err == nil, err
}

// open tries the current key, then each previous one in order.
func (b *Box) open(sealed, owner string) (pt []byte, current bool, err error) {
	rest, ok := strings.CutPrefix(sealed, version)
	if !ok {
		return nil, false, ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, false, ErrDecrypt
	}
	nonce, ct := raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():]
	if pt, err := b.aead.Open(nil, nonce, ct, []byte(owner)); err == nil {
		return pt, true, nil
	}
	for _, aead := range b.previous {
		if pt, err := aead.Open(nil, nonce, ct, []byte(owner)); err == nil {
			return pt, false, nil
		}
	}
	return nil, false, ErrDecrypt
}

// DeriveKey returns a sub-key for another purpose (e.g. cookie signing), so the master
// key itself is only ever used for sealing. Only the current key derives.
func (b *Box) DeriveKey(purpose string, size int) []byte {
	out := make([]byte, size)
	r := hkdf.New(sha256.New, b.key, nil, []byte("sluice "+purpose))
	if _, err := io.ReadFull(r, out); err != nil {
		panic("secrets: hkdf: " + err.Error()) // cannot happen for sizes below 255*32
	}
	return out
}

// DeriveKeys returns the sub-key for purpose of the current key, then of each previous
// one: what a consumer that can verify under several keys (signed cookies) takes, so
// that what was signed before the key changed stays valid while the old key is kept.
func (b *Box) DeriveKeys(purpose string, size int) [][]byte {
	out := [][]byte{b.DeriveKey(purpose, size)}
	for _, k := range b.oldKeys {
		out = append(out, (&Box{key: k}).DeriveKey(purpose, size))
	}
	return out
}

// ParseKey accepts 32 bytes written as base64 (standard or URL, padded or not) or hex;
// or, while the key is changed, a key ring: the new key, then the ones it replaces,
// separated by commas or white space ("NEW,OLD"), returned one after the other for New.
func ParseKey(s string) ([]byte, error) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(parts) == 0 {
		return nil, errKeyFormat
	}
	var ring []byte
	for _, p := range parts {
		k, err := parseOne(p)
		if err != nil {
			return nil, err
		}
		ring = append(ring, k...)
	}
	return ring, nil
}

var errKeyFormat = errors.New("secrets: key must be 32 bytes written as base64 or hex (try: openssl rand -base64 32)")

func parseOne(s string) ([]byte, error) {
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errKeyFormat
}

// LoadOrCreateKeyFile reads the key stored at path, or generates one there (mode 0600)
// the first time. Used for the embedded database, where one instance owns the data dir.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(raw))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("secrets: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secrets: create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process won the race: use its key
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: write key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("secrets: write key file: %w", err)
	}
	return key, f.Close()
}
