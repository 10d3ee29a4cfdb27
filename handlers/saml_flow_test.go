package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"sluice/internal/testutil"
	"sluice/models"
)

// samlRefused checks that a browser's last answer is the sign-in page with the words of
// a refusal, and that the browser is not signed in.
func samlRefused(t *testing.T, c *client, r *response, words string) {
	t.Helper()
	r.want(t, http.StatusUnprocessableEntity)
	if got := r.Text(t, "[data-testid=login-error]"); !strings.Contains(got, words) {
		t.Fatalf("refusal %q, want %q", got, words)
	}
	if c.signedIn() {
		t.Fatal("signed in despite the refusal")
	}
}

// acsRefused checks a refusal of an answer that belongs to no sign-in: the ACS sets no
// cookie (it would replace the browser's) and sends the browser on, whose sign-in page
// then shows the refusal's words, as for every other refusal.
func acsRefused(t *testing.T, c *client, acs *response, words string) {
	t.Helper()
	if strings.Contains(acs.Header.Get("Set-Cookie"), "sluice=") {
		t.Fatal("the ACS set the session cookie: it would replace the browser's")
	}
	samlRefused(t, c, samlFinish(t, c, acs), words)
}

// A response is tied to the browser that started the sign-in: posted from another
// browser (login CSRF: the attacker's own response, signed and fresh), replayed, or sent
// by the provider unasked, it signs nobody in and makes no account.
func TestSAMLResponseTiedToBrowser(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID

		// The attacker signs in at the provider in their own browser and keeps the form.
		idp.signInAs("mallory-1", "mallory@example.com")
		attacker := a.client(t)
		path, vals := samlAnswer(t, attacker, org)

		// The victim's browser posts it (the attacker's page auto-submits it).
		victim := a.client(t)
		victim.get("/login").want(t, http.StatusOK)
		samlRefused(t, victim, samlFinish(t, victim, postACS(t, victim, path, vals)), "not started in this browser")

		// Replayed, the same response belongs to no sign-in any more.
		acsRefused(t, attacker, postACS(t, attacker, path, vals), "unknown, used or older than ten minutes")

		// A victim who started a sign-in of their own is not fooled either.
		idp.signInAs("mallory-1", "mallory@example.com")
		path, vals = samlAnswer(t, attacker, org)
		victim2 := a.client(t)
		victim2.get("/sso/start?org="+org).want(t, http.StatusSeeOther)
		samlRefused(t, victim2, samlFinish(t, victim2, postACS(t, victim2, path, vals)), "not started in this browser")

		// An answer the provider sends unasked (IdP-initiated), with or without a relay
		// state, is refused with the way in.
		for _, relay := range []string{"", "anything"} {
			rec := httptest.NewRecorder()
			idp.ServeIDPInitiated(rec, httptest.NewRequest(http.MethodGet, idp.srv.URL+"/start", nil), "http://localhost:8080/saml/metadata/"+org, relay)
			p, v := samlForm(t, rec.Result())
			acsRefused(t, attacker, postACS(t, attacker, p, v), "start the sign-in from Sluice's sign-in page")
		}

		users, err := a.store.ListUsers(ctx, owner.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 {
			t.Fatalf("%d users: a refused response made an account", len(users))
		}

		// The browser that started the sign-in finishes it, once.
		good := a.client(t)
		path, vals = samlAnswer(t, good, org)
		acs := postACS(t, good, path, vals)
		samlFinish(t, good, acs).want(t, http.StatusSeeOther)
		if !good.signedIn() {
			t.Fatal("the browser that started the sign-in is not signed in")
		}
		samlRefused(t, a.client(t), a.client(t).get(acs.Location()), "not started in this browser")
	})
}

// The subject must last from one sign-in to the next: a transient or unspecified NameID
// gives way to the e-mail attribute, and without one the sign-in is refused in words
// that name the fix.
func TestSAMLSubject(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID

		for i, f := range []saml.NameIDFormat{saml.TransientNameIDFormat, saml.TransientNameIDFormat, saml.UnspecifiedNameIDFormat} {
			idp.signInWith("_random-"+string(rune('a'+i)), f, "Tess@Example.com")
			c := a.client(t)
			samlSignIn(t, c, org).want(t, http.StatusSeeOther)
			if !c.signedIn() {
				t.Fatalf("sign-in %d not signed in", i)
			}
		}
		users, err := a.store.ListUsers(ctx, owner.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 {
			t.Fatalf("%d users after three sign-ins of one person with transient NameIDs", len(users))
		}
		var identities int64
		if err := a.store.DB().Table("sso_identities").Count(&identities).Error; err != nil {
			t.Fatal(err)
		}
		if identities != 1 {
			t.Fatalf("%d provider identities after three sign-ins of one person: the transient NameID was taken for the subject", identities)
		}

		for _, f := range []saml.NameIDFormat{saml.TransientNameIDFormat, saml.UnspecifiedNameIDFormat} {
			idp.signInWith("_random-x", f, "")
			c := a.client(t)
			samlRefused(t, c, samlSignIn(t, c, org), "Ask your identity provider's admin to send a persistent NameID or the e-mail attribute")
		}

		// A persistent NameID is the subject: another e-mail later finds the same account.
		idp.signInWith("p-7", saml.PersistentNameIDFormat, "pat@example.com")
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		idp.signInWith("p-7", saml.PersistentNameIDFormat, "pat.new@example.com")
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if users, _ = a.store.ListUsers(ctx, owner.WorkspaceID); len(users) != 3 {
			t.Fatalf("%d users after two sign-ins of one persistent NameID", len(users))
		}
	})
}

// An e-mail in a signed assertion links only to an account of this organization: a
// member is found by it; another organization's account is refused.
func TestSAMLEmailLinksInsideTheOrganization(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, _, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID

		other, err := a.store.CreateWorkspace(ctx, "Other Co")
		if err != nil {
			t.Fatal(err)
		}
		otherAdmin := models.Actor{WorkspaceID: other.ID, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin}
		if _, err := a.store.CreateUser(ctx, otherAdmin, models.NewUser{Email: "zed@other.example", Password: testutil.Password, Role: models.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		idp.signInAs("z-1", "Zed@Other.example")
		c := a.client(t)
		samlRefused(t, c, samlSignIn(t, c, org), "zed@other.example has a Sluice account in another organization")

		// The owner, a member with a password, signs in with the provider as themselves.
		idp.signInAs("o-1", owner.Email)
		me := a.client(t)
		samlSignIn(t, me, org).want(t, http.StatusSeeOther)
		me.get("/settings/sso").want(t, http.StatusOK) // the owner's page
		if users, _ := a.store.ListUsers(ctx, owner.WorkspaceID); len(users) != 1 {
			t.Fatalf("%d users: the owner's sign-in made an account", len(users))
		}
	})
}

// Metadata from a URL is read again at a sign-in's start once it is a day old, or
// sooner when its cacheDuration says so: a provider's new signing certificate is picked
// up and the change audited. A failed read keeps the old metadata.
func TestSAMLMetadataReadAgain(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		a := ssoApp(t, dbURL)
		owner, c, idp := samlSetup(t, a)
		ctx := context.Background()
		org := owner.OrganizationID
		readAt := func() time.Time {
			t.Helper()
			cfg, err := a.store.SAMLConfigOf(ctx, org)
			if err != nil || cfg.MetadataReadAt == nil {
				t.Fatalf("config %+v, %v", cfg, err)
			}
			return *cfg.MetadataReadAt
		}
		age := func(d time.Duration) { // the last read and the last try, d ago
			t.Helper()
			if err := a.store.DB().Model(&models.SAMLConfig{}).Where("organization_id = ?", org).
				Updates(map[string]any{"metadata_read_at": time.Now().Add(-d), "metadata_tried_at": time.Now().Add(-d)}).Error; err != nil {
				t.Fatal(err)
			}
		}
		if since := time.Since(readAt()); since > time.Minute {
			t.Fatalf("metadata read %s ago at the save", since)
		}
		page := c.get("/settings/sso").want(t, http.StatusOK)
		if got := page.Text(t, "[data-testid=saml-metadata-read]"); !strings.Contains(got, "Metadata read at") {
			t.Fatalf("settings page says %q", got)
		}
		rotate := func() {
			key, cert := newKeyCert(t)
			idp.Key, idp.Signer, idp.Certificate = key, key, cert
		}
		idp.signInAs("u-1", "una@example.com")

		// Fresh metadata is not read again: a certificate changed since is refused.
		rotate()
		cl := a.client(t)
		samlRefused(t, cl, samlSignIn(t, cl, org), "not signed with the provider's certificate")

		// A day old: read again at the start, and the new certificate signs in.
		age(25 * time.Hour)
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if since := time.Since(readAt()); since > time.Minute {
			t.Fatalf("metadata not read again: read %s ago", since)
		}
		entries, _, err := a.store.ListAuditEntries(ctx, owner.WorkspaceID, models.AuditFilter{ResourceType: "saml"})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Action != "saml.metadata_refresh" || entries[0].ActorType != models.ActorSystem ||
			entries[0].BeforeJSON == nil || entries[0].AfterJSON == nil || *entries[0].BeforeJSON == *entries[0].AfterJSON ||
			!strings.Contains(*entries[0].AfterJSON, "signing_certificates") {
			t.Fatalf("audit entries %+v", entries)
		}

		// The provider's URL fails: the old metadata serves. The URL is not asked again
		// for a few minutes, so sign-ins meanwhile do not wait for it; then it is.
		asked := func() int {
			idp.mu.Lock()
			defer idp.mu.Unlock()
			return idp.metaAsked
		}
		idp.mu.Lock()
		idp.metaDown = true
		idp.mu.Unlock()
		age(25 * time.Hour)
		before := asked()
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if since := time.Since(readAt()); since < 24*time.Hour {
			t.Fatal("a failed read counts as a read")
		}
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if n := asked() - before; n != 1 {
			t.Fatalf("the metadata URL was asked %d times by two sign-ins within minutes of a failure, want 1", n)
		}
		if err := a.store.DB().Model(&models.SAMLConfig{}).Where("organization_id = ?", org).
			Update("metadata_tried_at", time.Now().Add(-6*time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if n := asked() - before; n != 2 {
			t.Fatalf("the metadata URL was asked %d times, want it asked again six minutes after the failure", n)
		}
		idp.mu.Lock()
		idp.metaDown = false
		idp.mu.Unlock()

		// The metadata's cacheDuration is shorter than a day: read again sooner.
		short := time.Minute
		idp.ValidDuration = &short
		age(25 * time.Hour)
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther) // reads the one-minute metadata
		age(5 * time.Minute)
		rotate()
		samlSignIn(t, a.client(t), org).want(t, http.StatusSeeOther)
		if since := time.Since(readAt()); since > time.Minute {
			t.Fatalf("metadata with a one-minute cacheDuration not read again after five: read %s ago", since)
		}
	})
}
