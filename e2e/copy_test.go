package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An editor of two workspaces copies the demo's Customers model: "Copy to workspace…"
// on the model's page, choose the target, and the preview says what is missing there
// (no warehouse source of the same kind yet) instead of creating half a copy.
func TestCopyModelPreview(t *testing.T) {
	base := startSluice(t, "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	modelID := customersModel(t, base)

	run(t, ctx, "create the first admin", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "add a workspace",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-workspaces]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=add-workspace-form] #f-name`), "Production"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
	)
	run(t, ctx, "open the copy page from the model",
		chromedp.Navigate(base+"/models/"+modelID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-to-workspace]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-to-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-target-form]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-target-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-preview]`)),
		shots.take("copy-preview"),
	)
	msg := read(t, ctx, "read the preview", chromedp.Text(chromedp.CSS(`[data-testid=copy-preview]`)))
	if !strings.Contains(msg, "Production has no") || !strings.Contains(msg, "connect one there first") {
		t.Errorf("preview: %q", msg)
	}
}

// The whole preview of an activation copied to Production, where a source and two
// platforms were connected (through Production's own API token): what will be created,
// the source and platform matched by name; choosing the other platform refreshes the
// preview with the choice kept; axe-core finds nothing serious on it; Create lands on the
// paused copy in Production.
func TestCopyActivationPreviewAndCreate(t *testing.T) {
	script := axeScript(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+runPageToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 500

	// In the demo workspace: an activation of the demo's segment to a webhook.
	var segs struct {
		Items []struct{ ID string } `json:"items"`
	}
	runPageAPI(t, base, "GET", "/segments", nil, &segs)
	var srcs struct {
		Items []struct {
			Name, Kind string
			Config     map[string]any
		} `json:"items"`
	}
	runPageAPI(t, base, "GET", "/sources", nil, &srcs)
	var hookIn struct{ ID string }
	runPageAPI(t, base, "POST", "/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &hookIn)
	var act struct{ ID string }
	runPageAPI(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the CRM", "segment_id": segs.Items[0].ID, "platform_id": hookIn.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)

	run(t, ctx, "create the first admin and Production", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=nav-workspaces]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=add-workspace-form] #f-name`), "Production"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-workspace]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
	)
	run(t, ctx, "switch to Production from the copy page",
		chromedp.Navigate(base+"/copy/activation/"+act.ID),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-target-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-switch]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-switch]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-info:not(.demo-banner)`)),
		chromedp.Poll[chromedp.Void](`location.pathname === '/activations' && document.querySelector('#switch-workspace option:checked').text.startsWith('Production')`),
		chromedp.Navigate(base+"/settings/tokens"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=create-token]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "setup"),
		chromedp.SetValue(chromedp.CSS(`#f-role`), "admin"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-token]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=token-value]`)),
	)
	prodToken := strings.TrimSpace(read(t, ctx, "read Production's token", chromedp.Text(chromedp.CSS(`[data-testid=token-value]`))))
	inProd := func(path string, body any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1"+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+prodToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("POST %s in Production: %d %s", path, res.StatusCode, b)
		}
	}
	inProd("/sources", map[string]any{"name": srcs.Items[0].Name, "kind": srcs.Items[0].Kind, "config": srcs.Items[0].Config})
	inProd("/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}})
	inProd("/platforms", map[string]any{"name": "Backup webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}})

	run(t, ctx, "back to the demo workspace",
		chromedp.Navigate(base+"/activations"),
		chromedp.WaitVisible(chromedp.CSS(`#switch-workspace`)),
		// The change event posts the form; the page that follows is another document.
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => { const s = document.querySelector('#switch-workspace');
			s.value = [...s.options].find(o => !o.selected).value; s.dispatchEvent(new Event('change', {bubbles: true})); }, 0)`),
	)
	run(t, ctx, "the whole preview",
		chromedp.WaitVisible(chromedp.CSS(`.alert-info:not(.demo-banner)`)),
		chromedp.Poll[chromedp.Void](`!document.querySelector('#switch-workspace option:checked').text.startsWith('Production')`),
		chromedp.Navigate(base+"/copy/activation/"+act.ID),
		chromedp.Click(chromedp.CSS(`[data-testid=copy-target-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-create]`)),
		shots.take("copy-preview-full"),
		axeCheck(t, script, "copy-preview"),
	)
	items := read(t, ctx, "read the items", chromedp.Text(chromedp.CSS(`[data-testid=copy-items]`)))
	for _, want := range []string{"model Customers — new", "segment", "activation VIPs to the CRM — new, paused"} {
		if !strings.Contains(items, want) {
			t.Errorf("preview %q lacks %q", items, want)
		}
	}
	if n := read(t, ctx, "count the matches", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=copy-by-name]').length`)); n != 2 {
		t.Errorf("%d mappings matched by name, want the source and the platform", n)
	}
	run(t, ctx, "choose the other platform",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#copy-platform');
			s.value = [...s.options].find(o => o.textContent === 'Backup webhook').value; s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid=copy-by-name]').length === 1`),
		settle,
		shots.take("copy-preview-chosen"),
	)
	chosen := read(t, ctx, "read the choice", chromedp.Evaluate[string](`document.querySelector('#copy-platform option:checked').textContent + ' ' + location.search`))
	if !strings.HasPrefix(chosen, "Backup webhook ") || !strings.Contains(chosen, "platform_id=") {
		t.Errorf("after choosing: %q, want Backup webhook kept and in the address", chosen)
	}
	run(t, ctx, "create the copy",
		chromedp.Click(chromedp.CSS(`[data-testid=copy-create]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("copy-created"),
	)
	landed := read(t, ctx, "read the flash", chromedp.Text(chromedp.CSS(`.alert-success`)))
	if !strings.Contains(landed, "copied to Production, paused") {
		t.Errorf("after Create: %q", landed)
	}
	if page := read(t, ctx, "read the copy's page", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(page, "→ Backup webhook") {
		t.Errorf("the copy does not send to the platform chosen: %q", page)
	}
}
