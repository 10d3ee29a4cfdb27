package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenAnswer is a successful token response (RFC 6749 §5.1).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// tokenError is one refusal of the token endpoint, with what each Style says for it.
type tokenError struct {
	// code and description are RFC 6749 §5.2's error and error_description.
	code, description string
	// hubspot is HubSpot's status for it ("error" when HubSpot documents none) and
	// hubspotMessage its message (description when empty).
	hubspot, hubspotMessage string
	// metaCode and metaSubcode are the Graph API's code and error_subcode (0: none).
	metaCode, metaSubcode int
	// basic says the client authenticated with HTTP Basic, so a 401 names that scheme.
	basic bool
}

func (e tokenError) status() int {
	if e.code == "invalid_client" {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// token serves the token endpoint (RFC 6749 §3.2).
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	if !h.wait(w, r) {
		return
	}
	form, terr := h.tokenForm(r)
	if terr != nil {
		h.tokenFail(w, *terr)
		return
	}
	basic, terr := h.authenticate(r, form)
	if terr != nil {
		h.tokenFail(w, *terr)
		return
	}
	var (
		ans tokenAnswer
		err *tokenError
	)
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		ans, err = h.exchangeCode(form)
	case "refresh_token":
		ans, err = h.refresh(form)
	case "fb_exchange_token":
		if h.o.Style != StyleMeta {
			err = &tokenError{code: "unsupported_grant_type", description: "The grant type fb_exchange_token is Meta's; this server is not.", hubspot: "BAD_GRANT_TYPE", metaCode: 100}
			break
		}
		ans, err = h.exchangeLongLived(form)
	case "":
		err = &tokenError{code: "invalid_request", description: "The request has no grant_type.", hubspot: "BAD_GRANT_TYPE", metaCode: 100}
	default:
		err = &tokenError{code: "unsupported_grant_type", description: "The grant type " + gt + " is not supported.", hubspot: "BAD_GRANT_TYPE", metaCode: 100}
	}
	if err != nil {
		err.basic = basic
		h.tokenFail(w, *err)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// wait applies SetDelay and FailNext; false means the request was answered.
func (h *Handler) wait(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	delay := h.delay
	fail := 0
	if len(h.fail) > 0 {
		fail, h.fail = h.fail[0], h.fail[1:]
	}
	h.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	if fail != 0 {
		if fail == http.StatusTooManyRequests || fail == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(fail)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", fail, http.StatusText(fail))
		return false
	}
	return true
}

// tokenForm reads the request's parameters: a POST form body (RFC 6749 §3.2), or with
// StyleMeta also a GET query, as Meta's documented examples send.
func (h *Handler) tokenForm(r *http.Request) (url.Values, *tokenError) {
	var form url.Values
	switch {
	case r.Method == http.MethodGet && h.o.Style == StyleMeta:
		form = r.URL.Query()
	case r.Method == http.MethodPost:
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" {
			return nil, &tokenError{code: "invalid_request", description: "The request body must be application/x-www-form-urlencoded.", metaCode: 100}
		}
		if err := r.ParseForm(); err != nil {
			return nil, &tokenError{code: "invalid_request", description: "The request body is not a valid form.", metaCode: 100}
		}
		form = r.PostForm
	default:
		return nil, &tokenError{code: "invalid_request", description: "The token endpoint takes POST.", metaCode: 100}
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, &tokenError{code: "invalid_request", description: "The parameter " + name + " is given more than once.", metaCode: 100}
		}
	}
	return form, nil
}

// authenticate checks the client's credentials, by HTTP Basic or in the form (RFC 6749
// §2.3.1), never both. basic says Basic was used.
func (h *Handler) authenticate(r *http.Request, form url.Values) (basic bool, _ *tokenError) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	user, pass, basic := r.BasicAuth()
	if basic {
		if secret != "" {
			return true, &tokenError{code: "invalid_request", description: "The client authenticates twice, with HTTP Basic and client_secret; use one.", metaCode: 100}
		}
		// Basic's user and password are form-encoded first (RFC 6749 §2.3.1).
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (id != "" && id != u) {
			return true, h.badClient(true, "The client credentials in the Authorization header are malformed.")
		}
		id, secret = u, p
	}
	switch {
	case id == "":
		return basic, h.badClient(basic, "The request carries no client authentication.")
	case id != h.o.ClientID:
		return basic, &tokenError{code: "invalid_client", description: "No client is registered with this client_id.", hubspot: "BAD_CLIENT_ID", hubspotMessage: "missing or invalid client id", metaCode: 101, basic: basic}
	case h.o.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(h.o.ClientSecret)) != 1:
		return basic, h.badClient(basic, "The client secret is wrong.")
	}
	return basic, nil
}

func (h *Handler) badClient(basic bool, description string) *tokenError {
	return &tokenError{code: "invalid_client", description: description, hubspot: "BAD_CLIENT_SECRET", hubspotMessage: "missing or invalid client secret", metaCode: 1, basic: basic}
}

// exchangeCode answers grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (h *Handler) exchangeCode(form url.Values) (tokenAnswer, *tokenError) {
	badCode := func(description string, sub int) *tokenError {
		return &tokenError{code: "invalid_grant", description: description, hubspot: "BAD_AUTH_CODE", hubspotMessage: "missing or unknown auth code", metaCode: 100, metaSubcode: sub}
	}
	cd := form.Get("code")
	if cd == "" {
		return tokenAnswer{}, &tokenError{code: "invalid_request", description: "The request has no code.", hubspot: "BAD_AUTH_CODE", hubspotMessage: "missing or unknown auth code", metaCode: 100}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.codes[cd]
	switch {
	case c == nil:
		return tokenAnswer{}, badCode("The authorization code is unknown.", 36007)
	case c.used:
		// A code used twice may be stolen: what it gave dies too (RFC 6749 §4.1.2).
		c.grant.revoked = true
		return tokenAnswer{}, badCode("The authorization code was already used; the tokens it gave are revoked.", 36009)
	}
	// Any presentation uses the code up: a failed exchange is not retried with it.
	c.used = true
	switch {
	case !h.o.Now().Before(c.expires):
		return tokenAnswer{}, badCode("The authorization code has expired.", 36007)
	case c.grant.revoked:
		return tokenAnswer{}, badCode("The authorization code was revoked.", 36007)
	}
	if given := form.Get("redirect_uri"); (c.redirectURI != "" || given != "") && given != c.grant.redirectURI {
		return tokenAnswer{}, &tokenError{code: "invalid_grant", description: "The redirect_uri differs from the one of the authorization request.", hubspot: "BAD_REDIRECT_URI", hubspotMessage: "redirect_uri does not match", metaCode: 100, metaSubcode: 36008}
	}
	verifier := form.Get("code_verifier")
	switch {
	case c.challenge == "" && verifier != "":
		return tokenAnswer{}, badCode("A code_verifier was sent but the authorization request had no code_challenge.", 0)
	case c.challenge != "" && verifier == "":
		return tokenAnswer{}, badCode("The code_verifier is missing.", 0)
	case c.challenge != "" && !challengePattern.MatchString(verifier):
		return tokenAnswer{}, badCode("The code_verifier is not 43 to 128 unreserved characters.", 0)
	case c.challenge != "" && subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.challenge)) != 1:
		return tokenAnswer{}, badCode("The code_verifier does not match the code_challenge.", 0)
	}
	return h.answer(c.grant, c.grant.scopes, ""), nil
}

// s256 is RFC 7636's S256 transform of a verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// deadRefresh is each provider's answer to a refresh token that is gone.
func (h *Handler) deadRefresh(expired bool) *tokenError {
	e := &tokenError{
		code: "invalid_grant", description: "The refresh token is invalid, expired or revoked.",
		hubspot: "BAD_REFRESH_TOKEN", hubspotMessage: "missing or invalid refresh token",
		metaCode: 190, metaSubcode: 458,
	}
	if expired {
		e.metaSubcode = 463
	}
	return e
}

// refresh answers grant_type=refresh_token (RFC 6749 §6).
func (h *Handler) refresh(form url.Values) (tokenAnswer, *tokenError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshes++
	rt := form.Get("refresh_token")
	if rt == "" {
		e := h.deadRefresh(false)
		e.code, e.description, e.metaCode, e.metaSubcode = "invalid_request", "The request has no refresh_token.", 100, 0
		return tokenAnswer{}, e
	}
	t := h.tokens[rt]
	if t == nil || !t.refresh {
		return tokenAnswer{}, h.deadRefresh(false)
	}
	t.grant.refreshes++
	if t.rotated && h.o.ReuseRevokes {
		t.grant.revoked = true
	}
	if !h.alive(t) {
		return tokenAnswer{}, h.deadRefresh(!t.revoked && !t.grant.revoked)
	}
	scopes := t.grant.scopes
	if s := form.Get("scope"); s != "" {
		scopes = strings.Fields(s)
		for _, sc := range scopes {
			if !slices.Contains(t.grant.scopes, sc) {
				return tokenAnswer{}, &tokenError{code: "invalid_scope", description: "The scope " + sc + " was not granted.", metaCode: 100}
			}
		}
	}
	keep := rt
	if h.o.Rotate {
		t.revoked, t.rotated = true, true
		keep = ""
	}
	return h.answer(t.grant, scopes, keep), nil
}

// exchangeLongLived answers Meta's grant_type=fb_exchange_token: a live access token
// becomes a new long-lived one; a dead one is error 190.
func (h *Handler) exchangeLongLived(form url.Values) (tokenAnswer, *tokenError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refreshes++
	t := h.tokens[form.Get("fb_exchange_token")]
	if t == nil || t.refresh {
		return tokenAnswer{}, h.deadRefresh(false)
	}
	t.grant.refreshes++
	if !h.alive(t) {
		return tokenAnswer{}, h.deadRefresh(!t.revoked && !t.grant.revoked)
	}
	return h.answer(t.grant, t.scopes, ""), nil
}

// answer issues an access token (and a refresh token: keep when it stays the same, a
// new one otherwise, none with NoRefresh). h.mu is held.
func (h *Handler) answer(g *grant, scopes []string, keep string) tokenAnswer {
	if h.issued++; h.issued%1024 == 0 {
		h.pruneLocked()
	}
	now := h.o.Now()
	access := randomString("at_", 24)
	expiry := now.Add(h.o.AccessTTL)
	h.tokens[access] = &token{grant: g, scopes: slices.Clone(scopes), expires: expiry}
	ans := tokenAnswer{AccessToken: access, TokenType: "bearer", ExpiresIn: int64(h.o.AccessTTL / time.Second)}
	if h.o.Style != StyleMeta {
		ans.Scope = strings.Join(scopes, " ")
	}
	switch {
	case h.o.NoRefresh:
	case keep != "":
		ans.RefreshToken = keep
	default:
		ans.RefreshToken = h.newRefreshLocked(g)
	}
	return ans
}

// tokenFail writes a refusal in the server's Style.
func (h *Handler) tokenFail(w http.ResponseWriter, e tokenError) {
	status := e.status()
	if status == http.StatusUnauthorized && e.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.o.Provider+`"`)
	}
	switch h.o.Style {
	case StyleHubSpot:
		st, msg := e.hubspot, e.hubspotMessage
		if st == "" {
			st = "error"
		}
		if msg == "" {
			msg = e.description
		}
		writeJSON(w, status, map[string]string{"status": st, "message": msg, "correlationId": uuid()})
	case StyleMeta:
		body := map[string]any{
			"message": metaMessage(e, h.o.ClientID), "type": "OAuthException",
			"code": e.metaCode, "fbtrace_id": randomString("", 8),
		}
		if e.metaSubcode != 0 {
			body["error_subcode"] = e.metaSubcode
		}
		// The Graph API answers its errors with 400, whatever they are.
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": body})
	default:
		writeJSON(w, status, map[string]string{"error": e.code, "error_description": e.description})
	}
}

// metaMessage words an error as the Graph API does for the common cases.
func metaMessage(e tokenError, clientID string) string {
	switch {
	case e.metaCode == 190 && e.metaSubcode == 463:
		return "Error validating access token: Session has expired."
	case e.metaCode == 190:
		return "Error validating access token: The user has not authorized application " + clientID + "."
	case e.metaSubcode == 36008:
		return "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"
	case e.metaSubcode == 36009:
		return "This authorization code has been used."
	case e.metaCode == 1:
		return "Error validating client secret."
	case e.metaCode == 101:
		return "Error validating application. Invalid application ID."
	}
	return e.description
}

// uuid is a random version 4 UUID, for HubSpot's correlationId.
func uuid() string {
	raw := randomBytes(16)
	raw[6] = raw[6]&0x0f | 0x40
	raw[8] = raw[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", raw[0:4], raw[4:6], raw[6:8], raw[8:10], raw[10:])
}

// writeJSON answers v as JSON, never cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
