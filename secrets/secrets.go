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

	"golang.org/x/crypto/hkdf"
)

// KeySize is the length of the master key: AES-256.
const KeySize = 32

// version prefixes each sealed value so the format can change without guessing.
const version = "v1:"

// ErrDecrypt means a sealed value was tampered with, belongs to another owner, or was
// sealed under another key.
var ErrDecrypt = errors.New("secrets: cannot decrypt (wrong key, wrong owner or corrupted value)")

// Box seals and opens values under one master key.
type Box struct {
	aead cipher.AEAD
	key  []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Seal encrypts plaintext with a fresh random nonce. owner (e.g. "source:<id>") is bound
// as additional data, so a ciphertext copied onto another row will not open there.
func (b *Box) Seal(plaintext []byte, owner string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("secrets: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(owner))
	return version + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal for the same owner.
func (b *Box) Open(sealed, owner string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, version)
	if !ok {
		return nil, ErrDecrypt
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, ErrDecrypt
	}
	nonce, ct := raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():]
	pt, err := b.aead.Open(nil, nonce, ct, []byte(owner))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// DeriveKey returns a sub-key for another purpose (e.g. cookie signing), so the master
// key itself is only ever used for sealing.
func (b *Box) DeriveKey(purpose string, size int) []byte {
	out := make([]byte, size)
	r := hkdf.New(sha256.New, b.key, nil, []byte("sluice "+purpose))
	if _, err := io.ReadFull(r, out); err != nil {
		panic("secrets: hkdf: " + err.Error()) // cannot happen for sizes below 255*32
	}
	return out
}

// ParseKey accepts 32 bytes written as base64 (standard or URL, padded or not) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errors.New("secrets: key must be 32 bytes written as base64 or hex (try: openssl rand -base64 32)")
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
