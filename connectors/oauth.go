package connectors

import (
	"context"
	"time"
)

// OAuthSpec says how platforms of a kind are authorized with OAuth 2.0's authorization
// code grant (RFC 6749 §4.1): where the user consents, where codes and refresh tokens
// become access tokens, and what is asked for. The client id and secret are the
// installation's, from its configuration; the endpoints may be pointed elsewhere there
// too (a local authorization server for tests and the demo).
type OAuthSpec struct {
	// Provider names the OAuth client in the configuration (oauth.<provider>.client_id).
	Provider string
	// AuthURL and TokenURL are the provider's documented endpoints.
	AuthURL, TokenURL string
	// Scopes are asked for at consent; a platform keeps those granted.
	Scopes []string
	// PKCE sends an S256 code challenge with the consent and its verifier with the code
	// (RFC 7636). Sluice sends it to every provider that accepts it.
	PKCE bool
	// AuthParams are extra parameters of the consent URL (Google's access_type=offline).
	AuthParams map[string]string
	// LongLivedGrant, when set, is the grant_type of a second request to TokenURL that
	// trades the short-lived token consent gives for a long-lived one (Meta's
	// "fb_exchange_token": hours become about 60 days). The token goes in a parameter of
	// the same name, with the client's id and secret, as Meta documents.
	LongLivedGrant string
	// RefreshMargin is how long before an access token's expiry it is refreshed (0: five
	// minutes). Tokens are refreshed ahead of expires_in, never on a 401: a 401 means the
	// grant is gone.
	RefreshMargin time.Duration
}

// Tokens is an OAuth platform's access token, as Sluice keeps it: refreshed ahead of its
// expiry, the new one stored, one refresh at a time across runs and instances.
//
// AccessToken's error is a *Error: credentials, not retryable, when the grant is dead
// (a revoked or expired refresh token: the platform must be re-authorized); connection,
// retryable, when the provider's token endpoint could not be reached; configuration
// when the installation's OAuth client was refused.
type Tokens interface {
	AccessToken(ctx context.Context) (string, error)
}

// StaticToken is a Tokens that always gives the same access token: for a token just
// received (the check after consent) and for tests.
type StaticToken string

// AccessToken returns the token.
func (t StaticToken) AccessToken(context.Context) (string, error) { return string(t), nil }
