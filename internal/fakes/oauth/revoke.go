package oauth

import "net/http"

// revoke serves RFC 7009's revocation endpoint: the client authenticates as at the
// token endpoint, and an unknown or already dead token is answered 200 too (§2.2), so
// revoking twice is not an error.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.tokenFail(w, tokenError{code: "invalid_request", description: "The revocation endpoint takes POST.", metaCode: 100})
		return
	}
	form, terr := h.tokenForm(r)
	if terr != nil {
		h.tokenFail(w, *terr)
		return
	}
	if _, terr := h.authenticate(r, form); terr != nil {
		h.tokenFail(w, *terr)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		h.tokenFail(w, tokenError{code: "invalid_request", description: "The request has no token.", metaCode: 100})
		return
	}
	// token_type_hint only speeds a lookup up (§2.1); one map holds both kinds here.
	h.RevokeToken(tok)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
