// Package oidcop runs a real OpenID Provider on a loopback port: zitadel/oidc's op
// package with the in-memory storage and the username/password login page of its
// example server, one web client registered (client secret, code flow, PKCE S256),
// and a "groups" claim for each user, in the ID token and at the userinfo endpoint.
//
// Sluice has two local providers on purpose. This one is somebody else's
// implementation of the specifications, so the browser test proves Sluice signs in
// through a provider it was not written alongside (for instance, that it reads the
// claims a strict provider keeps out of the ID token from the userinfo endpoint).
// internal/fakes/oidc is hand-written so the handler tests can make its ID tokens wrong
// on purpose (SetTamper: another audience, another nonce, expired), which a real
// provider will not do.
package oidcop

import (
	"context"
	"net/http/httptest"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// GroupsClaim is the claim the users' groups go under.
const GroupsClaim = "groups"

// User is a person who can sign in on the provider's login page.
type User struct {
	// ID is the subject (sub) the provider gives the person.
	ID                         string
	Username, Password         string
	FirstName, LastName, Email string
	EmailVerified              bool
	Groups                     []string
}

// Server is the provider listening on a local port; its issuer is its URL.
type Server struct {
	*httptest.Server
}

// Issuer is the provider's issuer URL, where its discovery document lives.
func (s *Server) Issuer() string { return s.URL }

// Start runs the provider with one web client (clientID, clientSecret, exactly one
// redirect URI) and the given users. Close it when done.
func Start(clientID, clientSecret, redirectURI string, users ...User) *Server {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	us := userStore{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, u := range users {
		us.byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password,
			FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, EmailVerified: u.EmailVerified}
		us.groups[u.ID] = u.Groups
	}
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, redirectURI)}
	st := &withGroups{Storage: storage.NewStorageWithClients(us, clients), users: us}
	srv.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	srv.Start()
	return &Server{Server: srv}
}

// withGroups is the example's storage plus each user's groups claim wherever the
// example puts the user's claims: the ID token and the userinfo endpoint.
type withGroups struct {
	*storage.Storage
	users userStore
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *withGroups) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	s.users.addGroups(ui, req.GetSubject())
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (s *withGroups) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.users.addGroups(ui, subject)
	return nil
}

// userStore is the example storage's UserStore over the test's users; it is not
// changed after Start.
type userStore struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func (u userStore) addGroups(ui *oidc.UserInfo, subject string) {
	if g, ok := u.groups[subject]; ok && g != nil {
		ui.AppendClaims(GroupsClaim, g)
	}
}

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u userStore) GetUserByUsername(username string) *storage.User {
	for _, user := range u.byID {
		if user.Username == username {
			return user
		}
	}
	return nil
}

// ExampleClientID names the example's service account (JWT profile grant), unused here.
func (u userStore) ExampleClientID() string { return storage.ServiceUserID }
