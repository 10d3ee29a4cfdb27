package snowflake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Fingerprint is Snowflake's fingerprint of a public key, as the user's
// RSA_PUBLIC_KEY_FP property shows it and a key-pair JWT's issuer carries it:
// "SHA256:" and the base64 of the SHA-256 of the key's DER (SubjectPublicKeyInfo).
func Fingerprint(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// The reasons a JWT is refused, as SYSTEM$GET_LOGIN_FAILURE_DETAILS names them (see
// "Key Pair Authentication: Troubleshooting"). Snowflake answers every one with the same
// 390144 "JWT token is invalid."; the fake keeps the reason for tests (LoginFailures).
const (
	failMissingToken = "JWT_TOKEN_MISSING"
	failTokenType    = "JWT_TOKEN_TYPE_NOT_KEYPAIR"
	failMalformed    = "JWT_TOKEN_INVALID"
	failAlgorithm    = "JWT_TOKEN_INVALID_ALGORITHM"
	failIssuer       = "JWT_TOKEN_INVALID_ISSUER"
	failSubject      = "JWT_TOKEN_INVALID_SUBJECT"
	failUser         = "JWT_TOKEN_INVALID_USER_IN_ISSUER"
	failFingerprint  = "JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH"
	failSignature    = "JWT_TOKEN_INVALID_SIGNATURE"
	failExpired      = "JWT_TOKEN_EXPIRED"
	failIssueTime    = "JWT_TOKEN_INVALID_ISSUE_TIME"
)

// maxLifetime is the longest a key-pair JWT may live: Snowflake refuses an exp more
// than one hour after iat.
const maxLifetime = time.Hour

// skew is the clock difference the fake tolerates on iat.
const skew = time.Minute

type authError struct{ reason string }

func (e *authError) Error() string { return e.reason }

// authenticate checks a request's key-pair JWT as Snowflake documents it ("Using
// key-pair authentication" in the SQL API guide): the Authorization: Bearer header,
// X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT, an RS256 token whose issuer is
// ACCOUNT.USER.SHA256:<fingerprint of the user's public key>, whose subject is
// ACCOUNT.USER (account and user in upper case), signed by that key, with iat and exp
// in seconds and exp at most an hour after iat. It answers the user's name.
func (s *Server) authenticate(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		return "", &authError{failMissingToken}
	}
	if r.Header.Get("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT" {
		return "", &authError{failTokenType}
	}
	parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	if len(parts) != 3 {
		return "", &authError{failMalformed}
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return "", &authError{failMalformed}
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", &authError{failMalformed}
	}
	if header.Alg != "RS256" {
		return "", &authError{failAlgorithm}
	}
	// iss: ACCOUNT.USER.SHA256:fp — the user name may itself hold dots, the
	// fingerprint never does.
	i := strings.LastIndex(claims.Iss, ".SHA256:")
	if i < 0 {
		return "", &authError{failIssuer}
	}
	subject, fp := claims.Iss[:i], claims.Iss[i+1:]
	if claims.Sub != subject {
		return "", &authError{failSubject}
	}
	account, userName, ok := strings.Cut(subject, ".")
	if !ok || account != s.opts.Account {
		return "", &authError{failIssuer}
	}
	s.mu.Lock()
	u := s.users[userName]
	var keys []*rsa.PublicKey
	if u != nil {
		keys = append(keys, u.keys...)
	}
	s.mu.Unlock()
	if u == nil {
		return "", &authError{failUser}
	}
	var key *rsa.PublicKey
	for _, k := range keys {
		if Fingerprint(k) == fp {
			key = k
		}
	}
	if key == nil {
		return "", &authError{failFingerprint}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", &authError{failMalformed}
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return "", &authError{failSignature}
	}
	now := s.now()
	iat, exp := time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
	switch {
	case claims.Iat == 0 || iat.After(now.Add(skew)) || exp.Sub(iat) > maxLifetime:
		return "", &authError{failIssueTime}
	case !exp.After(now):
		return "", &authError{failExpired}
	}
	return userName, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	return nil
}

// Token signs claims as an RS256 JWT with key, for tests that need a token the
// connector would never make (expired, too long-lived, another issuer).
func Token(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
