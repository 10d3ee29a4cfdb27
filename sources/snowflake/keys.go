package snowflake

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// parseKey reads the private key of the form: PEM, PKCS#8 ("BEGIN PRIVATE KEY", what
// Snowflake's guide makes with openssl pkcs8 -topk8 -nocrypt), PKCS#8 encrypted with a
// passphrase ("BEGIN ENCRYPTED PRIVATE KEY", PBES2 with PBKDF2 and AES-CBC or
// DES-EDE3-CBC, what the guide's -v2 aes256 or des3 make) or PKCS#1 ("BEGIN RSA
// PRIVATE KEY"). Its errors never quote the key.
func parseKey(text, passphrase string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, errors.New("it is not a PEM key (it should begin with -----BEGIN PRIVATE KEY-----)")
	}
	der := block.Bytes
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		if passphrase == "" {
			return nil, errors.New("the key is encrypted and no passphrase was given")
		}
		var err error
		if der, err = decryptPKCS8(der, passphrase); err != nil {
			return nil, err
		}
		fallthrough
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			if block.Type == "ENCRYPTED PRIVATE KEY" {
				return nil, errors.New("the passphrase does not decrypt the key")
			}
			return nil, errors.New("the PKCS#8 key cannot be read")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("the key is not an RSA key: Snowflake key-pair authentication takes RSA keys")
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		if _, encrypted := block.Headers["DEK-Info"]; encrypted {
			return nil, errors.New("legacy encrypted PEM is not supported: convert it with openssl pkcs8 -topk8 -v2 aes256")
		}
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, errors.New("the PKCS#1 key cannot be read")
		}
		return k, nil
	case "PUBLIC KEY":
		return nil, errors.New("this is the public key: paste the private key (rsa_key.p8); the public one goes to ALTER USER … SET RSA_PUBLIC_KEY")
	}
	return nil, fmt.Errorf("a PEM block of type %q is not a private key", block.Type)
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 5958) under PBES2 (RFC 8018).
func decryptPKCS8(der []byte, passphrase string) ([]byte, error) {
	var info encryptedKeyInfo
	if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, errors.New("the encrypted key is not PBES2-encrypted PKCS#8: convert it with openssl pkcs8 -topk8 -v2 aes256")
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil || !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errors.New("the encrypted key does not use PBKDF2")
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("the encrypted key's PBKDF2 parameters cannot be read")
	}
	var prf func() hash.Hash = sha1.New
	switch {
	case len(kdf.PRF.Algorithm) == 0 || kdf.PRF.Algorithm.Equal(oidHMACSHA1):
	case kdf.PRF.Algorithm.Equal(oidHMACSHA256):
		prf = sha256.New
	default:
		return nil, errors.New("the encrypted key's PBKDF2 uses a hash Sluice does not know (SHA-1 and SHA-256 are)")
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("the encrypted key's IV cannot be read")
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case s.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, errors.New("the encrypted key uses a cipher Sluice does not know (AES-CBC and DES-EDE3-CBC are)")
	}
	key, err := pbkdf2.Key(prf, passphrase, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	data := info.Data
	if len(iv) != block.BlockSize() || len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, errors.New("the passphrase does not decrypt the key")
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() {
		return nil, errors.New("the passphrase does not decrypt the key")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("the passphrase does not decrypt the key")
		}
	}
	return out[:len(out)-pad], nil
}

// fingerprint is Snowflake's fingerprint of the public half of key: "SHA256:" and the
// base64 of the SHA-256 of its DER, what DESC USER shows as RSA_PUBLIC_KEY_FP.
func fingerprint(key *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// jwtLifetime is how long a token lives: Snowflake takes at most an hour; Sluice signs
// a fresh one when less than ten minutes are left.
const jwtLifetime = time.Hour

// signJWT makes the key-pair JWT of "Using key-pair authentication": RS256, issuer
// ACCOUNT.USER.SHA256:<fingerprint>, subject ACCOUNT.USER, issued now, expiring in an
// hour.
func signJWT(key *rsa.PrivateKey, account, user string, now time.Time) (string, error) {
	sub := account + "." + user
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"iss": sub + "." + fingerprint(key),
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(jwtLifetime).Unix(),
	})
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
