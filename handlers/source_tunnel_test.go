package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/fakes/bastion"
	"sluice/internal/testutil"
	"sluice/models"
)

// The SSH tunnel section of the source form: saving a PostgreSQL source with the tunnel
// on generates its key pair, the page shows the public key (never the private one, nor
// anything a form posted for it) and the pinned host key's fingerprint; "Generate a new
// key" and "Accept the new host key" are admin actions behind CSRF, and each is audited.
func TestSourceTunnelPages(t *testing.T) {
	t.Parallel()
	a := sqliteApp(t)
	_, admin := signedInAdmin(t, a)
	b := bastion.Start(t)
	token := admin.csrf("/sources/new")

	form := pgForm(t, testutil.PostgresURL(t), "Private warehouse", "")
	form.Set("_csrf", token)
	form.Set("config.ssh_tunnel", "true")
	form.Set("config.ssh_host", b.Host())
	form.Set("config.ssh_port", b.Port())
	form.Set("config.ssh_user", "sluice")
	// Settings only Sluice sets: a form's values for them are ignored.
	form.Set("config.ssh_private_key", "posted-private-key")
	form.Set("config.ssh_host_key", "posted-host-key")

	newForm := admin.get("/sources/new").want(t, http.StatusOK)
	if newForm.Count(t, "[data-testid=ssh-tunnel] select[name='config.ssh_tunnel']") != 1 || newForm.Count(t, "[data-testid=ssh-no-key]") != 1 ||
		newForm.Count(t, "[name='config.ssh_private_key'], [name='config.ssh_public_key'], [name='config.ssh_host_key']") != 0 {
		t.Fatalf("the new source form's tunnel section:\n%s", newForm.Body)
	}
	// Without the bastion's host, the tunnel cannot be saved: the error is beside the field.
	noHost := url.Values{}
	for k, v := range form {
		noHost[k] = v
	}
	noHost.Del("config.ssh_host")
	if r := admin.post("/sources", noHost).want(t, http.StatusUnprocessableEntity); r.Count(t, "[data-testid='error-config.ssh_host']") != 1 {
		t.Errorf("no error beside the bastion host:\n%s", r.Body)
	}

	created := admin.post("/sources", form).want(t, http.StatusSeeOther)
	page := admin.get(created.Location()).want(t, http.StatusOK)
	pub := page.Text(t, "[data-testid=ssh-public-key]")
	if !strings.HasPrefix(pub, "ssh-ed25519 ") || !strings.HasSuffix(pub, " sluice") {
		t.Fatalf("public key shown = %q", pub)
	}
	// The key is not installed yet: the bastion refuses it, and the check says so.
	if got := page.Text(t, "[data-testid=source-status]"); got != "Broken" {
		t.Errorf("status before the key is installed = %q", got)
	}
	if msg := page.Text(t, "[data-testid=validation]"); !strings.Contains(msg, "refused Sluice's key for user sluice") {
		t.Errorf("validation before the key is installed: %q", msg)
	}
	if got := page.Text(t, "[data-testid=ssh-host-key]"); !strings.Contains(got, b.HostKeyFingerprint()) {
		t.Errorf("pinned host key shown = %q, want %s", got, b.HostKeyFingerprint())
	}
	for _, path := range []string{created.Location(), "/sources", "/settings/audit"} {
		body := admin.get(path).want(t, http.StatusOK).Body
		if strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, "posted-") {
			t.Errorf("%s shows the private key or a posted generated setting", path)
		}
	}

	b.Authorize(pub)
	id := strings.TrimPrefix(created.Location(), "/sources/")
	admin.post("/sources/"+id+"/validate", url.Values{"_csrf": {token}}).want(t, http.StatusOK)
	if got := admin.get(created.Location()).Text(t, "[data-testid=source-status]"); got != "Connected" {
		t.Fatalf("status with the key installed = %q", got)
	}

	// Role and CSRF checks on both actions.
	viewer, err := a.store.CreateUser(t.Context(), testutil.ActorOf(mustAdmin(t, a)), models.NewUser{Email: "tunnel-viewer@example.com", Password: testutil.Password, Role: models.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	vc := a.client(t)
	vc.signIn(viewer.Email, testutil.Password)
	vt := vc.csrf("/sources")
	for _, path := range []string{"/sources/" + id + "/tunnel-key", "/sources/" + id + "/host-key"} {
		vc.post(path, url.Values{"_csrf": {vt}, "fingerprint": {b.HostKeyFingerprint()}}).want(t, http.StatusForbidden)
		admin.post(path, url.Values{"fingerprint": {b.HostKeyFingerprint()}}).want(t, http.StatusForbidden)
	}
	if body := vc.get(created.Location()).want(t, http.StatusOK).Body; strings.Contains(body, "generate-key") {
		t.Error("a viewer is offered to generate a new key")
	}

	// A new key: shown at once, refused by the bastion until installed.
	admin.post("/sources/"+id+"/tunnel-key", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
	page = admin.get(created.Location()).want(t, http.StatusOK)
	newPub := page.Text(t, "[data-testid=ssh-public-key]")
	if newPub == pub || !strings.HasPrefix(newPub, "ssh-ed25519 ") || page.Text(t, "[data-testid=source-status]") != "Broken" {
		t.Fatalf("after generating a new key: %q, status %q", newPub, page.Text(t, "[data-testid=source-status]"))
	}
	b.Authorize(newPub)

	// The bastion's host key changes: both fingerprints and the accept button are shown.
	oldFP := b.HostKeyFingerprint()
	b.ChangeHostKey()
	admin.post("/sources/"+id+"/validate", url.Values{"_csrf": {token}}).want(t, http.StatusOK)
	page = admin.get(created.Location()).want(t, http.StatusOK)
	offer := page.Text(t, "[data-testid=host-key-offer]")
	if !strings.Contains(offer, oldFP) || !strings.Contains(offer, b.HostKeyFingerprint()) || page.Count(t, "[data-testid=accept-host-key]") != 1 {
		t.Fatalf("host key offer = %q", offer)
	}
	if body := vc.get(created.Location()).Body; strings.Contains(body, "accept-host-key") {
		t.Error("a viewer is offered to accept the host key")
	}
	// A fingerprint other than the offered one is refused with words, and nothing changes.
	admin.post("/sources/"+id+"/host-key", url.Values{"_csrf": {token}, "fingerprint": {oldFP}}).want(t, http.StatusSeeOther)
	if body := admin.get(created.Location()).Body; !strings.Contains(body, "changed again since this page was shown") {
		t.Error("accepting another fingerprint says nothing")
	}
	admin.post("/sources/"+id+"/host-key", url.Values{"_csrf": {token}, "fingerprint": {b.HostKeyFingerprint()}}).want(t, http.StatusSeeOther)
	page = admin.get(created.Location()).want(t, http.StatusOK)
	if page.Text(t, "[data-testid=source-status]") != "Connected" || page.Count(t, "[data-testid=host-key-offer]") != 0 ||
		!strings.Contains(page.Text(t, "[data-testid=ssh-host-key]"), b.HostKeyFingerprint()) {
		t.Fatalf("after accepting the new host key:\n%s", page.Body)
	}

	entries, _, err := a.store.ListAuditEntries(t.Context(), models.DefaultWorkspaceID, models.AuditFilter{ResourceType: "source", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+"/"+e.ActorType)
	}
	got := strings.Join(actions, " ")
	for _, want := range []string{"source.tunnel_key_generate/user", "source.tunnel_host_key_accept/user", "source.tunnel_host_key_pin/system", "source.tunnel_host_key_change/system"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit log %q lacks %s", got, want)
		}
	}
}
