package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	hubspotfake "sluice/internal/fakes/hubspot"
	oauthfake "sluice/internal/fakes/oauth"
)

// The seed's destination fix, with a real OAuth platform: connect HubSpot through its
// consent page, lose the grant (revoked at HubSpot), watch the run fail with bad
// credentials, the platform turn broken and its activation pause; then follow
// Re-authorize from the platforms list, see what waits, consent again, and see the
// activation resume and its catch-up run succeed.
func TestHubSpotReauthorizeAfterRevocation(t *testing.T) {
	as := oauthfake.New(oauthfake.Options{ClientID: "sluice-e2e", ClientSecret: "e2e-client-secret", Style: oauthfake.StyleHubSpot,
		Provider: "HubSpot", Account: "marketing@acme.example"})
	defer as.Close()
	crm := hubspotfake.New(hubspotfake.Options{Tokens: as.Valid})
	defer crm.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken,
		"SLUICE_API_URL_HUBSPOT="+crm.URL,
		"SLUICE_OAUTH_HUBSPOT_CLIENT_ID=sluice-e2e", "SLUICE_OAUTH_HUBSPOT_CLIENT_SECRET=e2e-client-secret",
		"SLUICE_OAUTH_HUBSPOT_AUTH_URL="+as.AuthURL(), "SLUICE_OAUTH_HUBSPOT_TOKEN_URL="+as.TokenURL())

	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 130
	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "connect HubSpot through its consent page",
		chromedp.Navigate(base+"/settings/platforms/new"),
		choose("#f-kind", "hubspot"),
		waitText(`[data-testid=save-platform]`, "Continue to HubSpot"),
		typeValue("#f-name", "HubSpot (marketing)"),
		shots.take("hubspot-connect"),
		click(`[data-testid=save-platform]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=allow]`)),
		shots.take("hubspot-consent"),
		chromedp.Click(chromedp.CSS(`[data-testid=allow]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		shots.take("hubspot-connected"),
	)
	platformPath := currentPath(t, ctx)
	platformID := strings.TrimPrefix(platformPath, "/settings/platforms/")
	if access := read(t, ctx, "read the access", chromedp.Text(chromedp.CSS(`[data-testid=platform-connection]`))); !strings.Contains(access, "ada@acme.example") || !strings.Contains(access, "crm.objects.contacts.write") {
		t.Fatalf("the platform page does not say who connected it or its scopes: %q", access)
	}

	var shown struct {
		ConnectedBy    string   `json:"connected_by"`
		Scopes         []string `json:"scopes"`
		TokenExpiresAt string   `json:"token_expires_at"`
		Config         map[string]string
	}
	api(t, base, "GET", "/platforms/"+platformID, nil, &shown)
	if shown.ConnectedBy != "ada@acme.example" || !slices.Contains(shown.Scopes, "crm.objects.contacts.write") || shown.TokenExpiresAt == "" {
		t.Fatalf("the API shows the platform as %+v", shown)
	}

	var segs struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "Customers to HubSpot", "segment_id": segs.Items[0].ID, "platform_id": platformID,
		"action": "sync_contacts", "action_settings": map[string]string{"id_property": "email"},
		"mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	first := runToEnd(t, base, act.ID, false)
	if !strings.HasPrefix(first.Status, "succeeded") || len(crm.Records("contacts")) == 0 {
		t.Fatalf("the first run %s (%s); HubSpot holds %d contacts", first.Status, first.message(), len(crm.Records("contacts")))
	}

	// HubSpot loses the grant: the next run that sends fails on credentials, and the
	// platform breaks.
	as.Revoke()
	second := runToEnd(t, base, act.ID, true)
	if second.Status != "failed" || second.category() != "credentials" {
		t.Fatalf("after revoking, the run is %s (%s: %s)", second.Status, second.category(), second.message())
	}
	var paused struct{ Status, PauseReason string }
	api(t, base, "GET", "/activations/"+act.ID, nil, &paused)
	if paused.Status != "paused" {
		t.Fatalf("the activation is %s after its platform broke", paused.Status)
	}

	run(t, ctx, "find the broken platform and what waits for it",
		chromedp.Navigate(base+"/settings/platforms"),
		waitText(`[data-testid=platform-status]`, "Broken"),
		shots.take("platforms-broken"),
		click(`[data-testid=reauthorize]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=paused-activation]`)),
		shots.take("reauthorize-blast-radius"),
	)
	if radius := read(t, ctx, "read the blast radius", chromedp.Text(chromedp.CSS(`[data-testid=blast-radius]`))); !strings.Contains(radius, "Customers to HubSpot") {
		t.Fatalf("the Re-authorize page does not list the paused activation: %q", radius)
	}
	run(t, ctx, "consent again",
		click(`[data-testid=continue-oauth]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=allow]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=allow]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=catch-up]`)),
		shots.take("reauthorized-catch-up"),
	)
	api(t, base, "GET", "/activations/"+act.ID, nil, &paused)
	if paused.Status != "active" {
		t.Fatalf("re-authorizing left the activation %s", paused.Status)
	}
	run(t, ctx, "run the catch-up", click(`[data-testid=run-catch-up]`),
		waitText(`#flash [role=status]`, "Catch-up runs queued for 1 activation of HubSpot (marketing)."), shots.take("catch-up-queued"))
	catchUp := lastRunToEnd(t, base, act.ID, second.ID)
	if !strings.HasPrefix(catchUp.Status, "succeeded") {
		t.Fatalf("the catch-up run is %s (%s)", catchUp.Status, catchUp.message())
	}
}

type runState struct {
	ID, Status string
	Error      *struct{ Category, Message string }
}

func (r runState) category() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Category
}

func (r runState) message() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Message
}

// runToEnd queues a run of the activation (a full resync sends every record again) and
// waits for its end.
func runToEnd(t *testing.T, base, activationID string, fullResync bool) runState {
	t.Helper()
	var r runState
	api(t, base, "POST", "/activations/"+activationID+"/runs", map[string]bool{"full_resync": fullResync}, &r)
	return waitRun(t, base, r)
}

// lastRunToEnd waits for the activation's newest run, other than after, to end.
func lastRunToEnd(t *testing.T, base, activationID, after string) runState {
	t.Helper()
	for range 100 {
		var runs struct{ Items []runState }
		api(t, base, "GET", "/activations/"+activationID+"/runs", nil, &runs)
		if len(runs.Items) > 0 && runs.Items[0].ID != after {
			return waitRun(t, base, runs.Items[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no new run was queued")
	return runState{}
}

func waitRun(t *testing.T, base string, r runState) runState {
	t.Helper()
	for i := 0; i < 300 && !strings.HasPrefix(r.Status, "succeeded") && r.Status != "failed" && r.Status != "interrupted" && r.Status != "cancelled"; i++ {
		time.Sleep(100 * time.Millisecond)
		api(t, base, "GET", "/runs/"+r.ID, nil, &r)
	}
	return r
}
