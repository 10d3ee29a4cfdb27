package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"sluice/internal/fakes/oauth"
)

// A connector test starts from a stored grant, lets its platform fake accept only live
// tokens, and kills the grant to see the connector's "re-authorize" error.
func Example() {
	srv := oauth.New(oauth.Options{
		ClientID: "app", ClientSecret: "secret", Scopes: []string{"oauth", "crm.lists.write"},
		Style: oauth.StyleHubSpot,
	})
	defer srv.Close()
	conf := &oauth2.Config{
		ClientID: "app", ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
	}
	stored := srv.Issue("oauth", "crm.lists.write")

	tok, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: stored.RefreshToken}).Token()
	fmt.Println("refreshed:", err == nil)
	scopes, ok := srv.Valid(tok.AccessToken) // what the platform fake asks of a bearer token
	fmt.Println("valid:", ok, scopes)

	srv.Revoke() // the user uninstalled the app
	_, ok = srv.Valid(tok.AccessToken)
	fmt.Println("valid after Revoke:", ok)
	_, err = conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: stored.RefreshToken}).Token()
	if re, isRE := err.(*oauth2.RetrieveError); isRE {
		fmt.Println("refresh:", re.Response.StatusCode, re.Response.Header.Get("Content-Type"))
	}
	fmt.Println("refreshes:", srv.Refreshes())
	// Output:
	// refreshed: true
	// valid: true [oauth crm.lists.write]
	// valid after Revoke: false
	// refresh: 400 application/json;charset=UTF-8
	// refreshes: 2
}

// A browser test or the demo shows the consent page; tests without a browser set
// AutoApprove and read the code off the redirect.
func Example_autoApprove() {
	srv := oauth.New(oauth.Options{
		ClientID: "app", ClientSecret: "secret", AutoApprove: true, RequirePKCE: true,
		RedirectURIs: []string{"http://127.0.0.1:8080/oauth/callback"},
	})
	defer srv.Close()
	conf := &oauth2.Config{
		ClientID: "app", ClientSecret: "secret", RedirectURL: "http://127.0.0.1:8080/oauth/callback",
		Endpoint: oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		Scopes:   []string{"oauth"},
	}
	verifier := oauth2.GenerateVerifier()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	fmt.Println(back.Query().Get("state"), err == nil, tok.RefreshToken != "", tok.ExpiresIn)
	// Output: state-1 true true 1800
}
