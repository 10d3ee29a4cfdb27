package oauth

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// challengePattern is an S256 code_challenge: 43 characters of base64url without padding
// (RFC 7636 §4.2 allows 43 to 128 unreserved characters; SHA-256 gives exactly 43).
var challengePattern = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// authorize serves the authorization endpoint: GET asks for consent (or approves at once
// with AutoApprove), POST is the consent page's answer.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.authorizeRequest(w, r)
	case http.MethodPost:
		h.consentAnswer(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		h.page(w, http.StatusMethodNotAllowed, "Method not allowed", "The authorization endpoint takes GET (the request) and POST (the consent page's answer).")
	}
}

// authorizeRequest checks an authorization request (RFC 6749 §4.1.1). A wrong client or
// redirect URI is shown on a page and never redirected (§4.1.2.1): redirecting would
// send the user, and maybe a code, to an address nobody registered.
func (h *Handler) authorizeRequest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			h.page(w, http.StatusBadRequest, "Invalid request", "The request gives "+name+" more than once. Ask the app's developer to fix the sign-in link.")
			return
		}
	}
	if q.Get("client_id") == "" {
		h.page(w, http.StatusBadRequest, "Invalid request", "The request has no client_id. Ask the app's developer to fix the sign-in link.")
		return
	}
	if q.Get("client_id") != h.o.ClientID {
		h.page(w, http.StatusBadRequest, "Unknown app", "No app is registered with the client_id "+q.Get("client_id")+". Ask the app's developer to check its OAuth settings.")
		return
	}
	redirectURI, problem := h.resolveRedirect(q.Get("redirect_uri"))
	if problem != "" {
		h.page(w, http.StatusBadRequest, "Invalid redirect URI", problem)
		return
	}
	state := q.Get("state")
	fail := func(code, description string) {
		redirectBack(w, r, redirectURI, url.Values{"error": {code}, "error_description": {description}}, state)
	}
	for name, vs := range q {
		if len(vs) > 1 {
			fail("invalid_request", "The parameter "+name+" is given more than once.")
			return
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		fail("invalid_request", "The request has no response_type.")
		return
	case rt != "code":
		fail("unsupported_response_type", "Only the authorization code grant (response_type=code) is supported, not "+rt+".")
		return
	}
	if state == "" {
		// Sluice always sends one; a request without it could be forged (RFC 9700 §2.1).
		fail("invalid_request", "The request has no state.")
		return
	}
	scopes, problem := h.parseScopes(q.Get("scope"))
	if problem != "" {
		fail("invalid_scope", problem)
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail("invalid_request", "code_challenge_method is given without a code_challenge.")
		return
	case challenge == "" && h.o.RequirePKCE:
		fail("invalid_request", "A code_challenge (PKCE, S256) is required.")
		return
	case challenge != "" && method != "S256":
		// An absent method means "plain" (RFC 7636 §4.3), which gives no protection.
		fail("invalid_request", "Only the S256 code_challenge_method is supported.")
		return
	case challenge != "" && !challengePattern.MatchString(challenge):
		fail("invalid_request", "The code_challenge is not 43 to 128 characters of base64url.")
		return
	}
	c := &consent{
		redirectURI: redirectURI, redirectSent: q.Get("redirect_uri") != "",
		scopes: scopes, state: state, challenge: challenge,
	}
	if h.o.AutoApprove {
		h.approve(w, r, c)
		return
	}
	h.mu.Lock()
	id := randomString("cs_", 18)
	c.expires = h.o.Now().Add(consentTTL)
	h.consents[id] = c
	h.mu.Unlock()
	h.consentPage(w, c, id)
}

// resolveRedirect finds the redirect URI of a request: the given one if registered
// exactly, else the only one registered. With none registered, the first one given is
// pinned.
func (h *Handler) resolveRedirect(given string) (string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	registered := h.o.RedirectURIs
	if len(registered) == 0 {
		registered = h.pinned
	}
	if given == "" {
		if len(registered) == 1 {
			return registered[0], ""
		}
		return "", "The request has no redirect_uri. Ask the app's developer to fix the sign-in link."
	}
	u, err := url.Parse(given)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(given, "#") {
		return "", "The redirect_uri " + given + " is not an absolute URL without a fragment. Ask the app's developer to fix its OAuth settings."
	}
	if len(registered) == 0 {
		h.pinned = []string{given}
		return given, ""
	}
	if !slices.Contains(registered, given) {
		return "", "The redirect_uri " + given + " is not registered for this app (redirect URIs must match exactly). Ask the app's developer to register it."
	}
	return given, ""
}

// parseScopes splits a scope parameter and refuses scopes the provider does not know.
func (h *Handler) parseScopes(s string) ([]string, string) {
	scopes := strings.Fields(s)
	if len(scopes) == 0 {
		return nil, "The request asks for no scope."
	}
	var out []string
	for _, sc := range scopes {
		if len(h.o.Scopes) > 0 && !slices.Contains(h.o.Scopes, sc) {
			return nil, "The scope " + sc + " is not one this provider knows."
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, ""
}

// consentAnswer takes the consent page's POST: Allow gives a code, Deny access_denied.
// The consent id in the form is unguessable and single-use, so another site cannot post
// an approval the user never saw.
func (h *Handler) consentAnswer(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, "Invalid request", "The consent form could not be read. Start again from the app.")
		return
	}
	h.mu.Lock()
	id := r.PostForm.Get("consent")
	c := h.consents[id]
	delete(h.consents, id)
	h.mu.Unlock()
	if c == nil || !h.o.Now().Before(c.expires) {
		h.page(w, http.StatusBadRequest, "Consent expired", "This consent request has expired or was already answered. Start again from the app.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		h.approve(w, r, c)
	case "deny":
		redirectBack(w, r, c.redirectURI, url.Values{
			"error": {"access_denied"}, "error_description": {"The user denied the request."},
		}, c.state)
	default:
		h.page(w, http.StatusBadRequest, "Invalid request", "The consent form carries no decision. Start again from the app.")
	}
}

// approve records the grant and sends the user back with a single-use code.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request, c *consent) {
	h.mu.Lock()
	g := h.newGrant(c.scopes, c.redirectURI, c.challenge != "")
	cd := randomString("code_", 18)
	sent := ""
	if c.redirectSent {
		sent = c.redirectURI
	}
	h.codes[cd] = &code{grant: g, redirectURI: sent, challenge: c.challenge, expires: h.o.Now().Add(CodeTTL)}
	h.mu.Unlock()
	redirectBack(w, r, c.redirectURI, url.Values{"code": {cd}}, c.state)
}

// redirectBack sends the user agent to redirectURI with params and state added to its
// query (RFC 6749 §4.1.2).
func redirectBack(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	u, _ := url.Parse(redirectURI) // resolveRedirect parsed it
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// consentPage shows "<App> wants to: <scopes>" with Allow and Deny.
func (h *Handler) consentPage(w http.ResponseWriter, c *consent, id string) {
	target := c.redirectURI
	if u, err := url.Parse(c.redirectURI); err == nil {
		target = u.Host
	}
	setPageHeaders(w)
	w.WriteHeader(http.StatusOK)
	_ = consentTemplate.Execute(w, map[string]any{
		"Provider": h.o.Provider, "App": h.o.App, "Account": h.o.Account,
		"Scopes": c.scopes, "Consent": id, "Action": h.o.BasePath + AuthorizePath,
		"Target": target,
	})
}

// page shows an error to the user in the browser.
func (h *Handler) page(w http.ResponseWriter, status int, title, message string) {
	setPageHeaders(w)
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, map[string]any{"Provider": h.o.Provider, "Title": title, "Message": message})
}

// setPageHeaders keeps the pages out of caches and frames (a framed consent page can be
// clickjacked into an approval).
func setPageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

const pageStyle = `<style>
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f3f4f6;color:#111827}
main{max-width:26rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.25rem;margin:0 0 1rem}.provider{color:#6b7280;font-size:.875rem;margin:0 0 .5rem}
ul{padding-left:1.25rem}li{margin:.25rem 0}code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;font:inherit;padding:.6rem 1rem;border-radius:8px;border:1px solid #d1d5db;background:#fff;cursor:pointer}
button.allow{background:#2563eb;border-color:#2563eb;color:#fff}.muted{color:#6b7280;font-size:.875rem}
</style>`

var consentTemplate = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.App}} wants to access your {{.Provider}} account</title>` + pageStyle + `</head>
<body><main data-testid="consent">
<p class="provider">{{.Provider}}</p>
<h1>{{.App}} wants to:</h1>
<ul data-testid="scopes">{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
<p>Signed in as <strong data-testid="account">{{.Account}}</strong>.</p>
<p class="muted">After you choose, you go back to {{.Target}}.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="consent" value="{{.Consent}}">
<div class="actions">
<button type="submit" name="decision" value="deny" data-testid="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="allow" data-testid="allow">Allow</button>
</div></form>
</main></body></html>
`))

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>` + pageStyle + `</head>
<body><main data-testid="error">
<p class="provider">{{.Provider}}</p>
<h1>{{.Title}}</h1>
<p data-testid="message">{{.Message}}</p>
</main></body></html>
`))
