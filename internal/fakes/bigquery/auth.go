package bigquery

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The OAuth 2.0 scopes that reach BigQuery.
var bigQueryScopes = []string{
	"https://www.googleapis.com/auth/bigquery",
	"https://www.googleapis.com/auth/bigquery.readonly",
	"https://www.googleapis.com/auth/cloud-platform",
	"https://www.googleapis.com/auth/cloud-platform.read-only",
}

// account is a service account with its current key.
type account struct {
	email string
	keyID string
	key   *rsa.PublicKey // nil once the key is deleted
}

type accessToken struct {
	email   string
	scopes  []string
	expires time.Time
}

// ServiceAccount creates a service account name@project.iam.gserviceaccount.com with a
// new RSA key and returns the key file as the console downloads it, its token_uri this
// fake's /token. It has no role until granted one.
func (s *Server) ServiceAccount(name string) (email string, keyJSON []byte) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	kid := make([]byte, 20)
	_, _ = rand.Read(kid)
	email = name + "@" + s.project + ".iam.gserviceaccount.com"
	acc := &account{email: email, keyID: hex.EncodeToString(kid), key: &priv.PublicKey}
	s.mu.Lock()
	s.accounts[email] = acc
	s.mu.Unlock()
	keyJSON, _ = json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  s.project,
		"private_key_id":              acc.keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "10" + fmt.Sprint(time.Now().UnixNano()%1e17),
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + email,
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return email, keyJSON
}

// DeleteKey deletes the account's key, as in the console: assertions it signed are
// refused from then on.
func (s *Server) DeleteKey(email string) {
	s.set(func() {
		if a := s.accounts[email]; a != nil {
			a.key = nil
		}
	})
}

// RevokeTokens ends every access token issued so far (as when a key is disabled).
func (s *Server) RevokeTokens() { s.set(func() { s.tokens = map[string]accessToken{} }) }

// tokenError answers the token endpoint's documented error body.
func tokenError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token is the JWT bearer grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := r.PostForm.Get("assertion")
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Malformed JWT.")
		return
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
		Sub   string `json:"sub"`
	}
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &claims) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Malformed JWT.")
		return
	}
	s.mu.Lock()
	acc := s.accounts[claims.Iss]
	var key *rsa.PublicKey
	var keyID string
	if acc != nil {
		key, keyID = acc.key, acc.keyID
	}
	s.mu.Unlock()
	if acc == nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: account not found")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || header.Alg != "RS256" || key == nil || (header.Kid != "" && header.Kid != keyID) ||
		rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if claims.Aud != s.TokenURL() {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is "+s.TokenURL())
		return
	}
	now := time.Now().Unix()
	if claims.Exp <= now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		tokenError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	tok := "ya29.fake-" + base64.RawURLEncoding.EncodeToString(raw)
	s.mu.Lock()
	s.tokens[tok] = accessToken{email: acc.email, scopes: scopes, expires: time.Now().Add(time.Hour)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func decodeSegment(seg string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(raw, v) == nil
}

// authenticate checks the bearer token, answering Google's documented 401 and 403
// bodies, and returns the caller's e-mail.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		writeAPIError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			errorItem{Message: "Login Required.", Domain: "global", Reason: "required", Location: "Authorization", LocationType: "header"})
		return "", false
	}
	s.mu.Lock()
	at, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || time.Now().After(at.expires) {
		writeAPIError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			errorItem{Message: "Invalid Credentials", Domain: "global", Reason: "authError", Location: "Authorization", LocationType: "header"})
		return "", false
	}
	for _, sc := range at.scopes {
		for _, ok := range bigQueryScopes {
			if sc == ok {
				return at.email, true
			}
		}
	}
	writeAPIError(w, http.StatusForbidden, "PERMISSION_DENIED", "Request had insufficient authentication scopes.",
		errorItem{Message: "Insufficient Permission", Domain: "global", Reason: "insufficientPermissions"})
	return "", false
}
