package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeDir is where axe-core is installed when missing: git-ignored, kept between runs.
const axeDir = "../.cache/axe-core"

var axeOnce struct {
	sync.Once
	script string
	err    error
}

// axeScript answers axe-core's browser bundle, installed with npm on first use; without
// npm or the network the test skips, except in CI.
func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		file := filepath.Join(axeDir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(file); err != nil {
			cmd := exec.Command("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", axeDir, "axe-core@4")
			if out, err := cmd.CombinedOutput(); err != nil {
				axeOnce.err = fmt.Errorf("npm install axe-core@4: %v\n%s", err, out)
				return
			}
		}
		b, err := os.ReadFile(file)
		axeOnce.script, axeOnce.err = string(b), err
	})
	if axeOnce.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is required in CI: %v", axeOnce.err)
		}
		t.Skipf("axe-core unavailable (needs npm and the network): %v", axeOnce.err)
	}
	return axeOnce.script
}

// axeViolation is one rule a page breaks, as axe-core reports it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeCheck runs axe-core (WCAG 2.1 A and AA) on the page as it is and fails the test
// with every serious or critical violation: its rule, impact and the elements.
func axeCheck(t *testing.T, script, page string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if err := settled(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		// Colours are measured as shown: let transitions (a button fading back after its
		// request) end first.
		if _, err := chromedp.Poll[chromedp.Void](`document.getAnimations().every(a => a.playState !== 'running' || a.effect.getComputedTiming().endTime === Infinity)`)(ctx, tg); err != nil {
			return chromedp.Void{}, err
		}
		loaded, err := chromedp.Evaluate[bool](`typeof axe === 'object'`)(ctx, tg)
		if err == nil && !loaded {
			_, err = chromedp.Evaluate[bool](script+"\n;true")(ctx, tg)
		}
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("inject axe-core: %w", err)
		}
		raw, err := chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
			.then(r => JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')))`, chromedp.EvalAwaitPromise)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("axe.run: %w", err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			return chromedp.Void{}, err
		}
		for _, v := range vs {
			var targets []string
			for _, n := range v.Nodes {
				targets = append(targets, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s: %s (%s) %s: %s\n%s", page, v.ID, v.Impact, v.Help, strings.Join(targets, ", "), v.Nodes[0].FailureSummary)
		}
		return chromedp.Void{}, nil
	}
}

// axe-core finds no serious or critical violation of WCAG 2.1 A/AA on the main pages:
// setup and sign-in, the lists, the pages of one source, model, segment, platform,
// activation (and its runs) and run, an activation's copy page, every step of the
// wizard, incidents and settings.
func TestMainPagesAreAccessible(t *testing.T) {
	script := axeScript(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) }))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true", "SLUICE_BOOTSTRAP_TOKEN="+bootstrapToken)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 300
	check := func(page string) chromedp.Action[chromedp.Void] { return axeCheck(t, script, page) }

	run(t, ctx, "setup", chromedp.Navigate(base+"/setup"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=create-admin]`)), check("setup"))
	run(t, ctx, "sign-in",
		createAdmin("ada@acme.example", "correct horse battery"),
		click(`[data-testid=sign-out]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-in]`)),
		check("login"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), "ada@acme.example"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid=sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)),
	)

	// An activation with a run, through the API.
	var segs struct {
		Items []struct{ ID string } `json:"items"`
	}
	api(t, base, "GET", "/segments", nil, &segs)
	var platform struct{ ID string }
	api(t, base, "POST", "/platforms", map[string]any{"name": "CRM webhook", "kind": "webhook", "config": map[string]any{"url": hook.URL}}, &platform)
	var act struct{ ID string }
	api(t, base, "POST", "/activations", map[string]any{"name": "VIPs to the CRM", "segment_id": segs.Items[0].ID, "platform_id": platform.ID,
		"action": "sync_records", "mappings": []map[string]string{{"from": "email", "to": "email", "type": "email"}}, "schedule": map[string]string{"kind": "manual"}}, &act)
	var queued struct{ ID, Status string }
	api(t, base, "POST", "/activations/"+act.ID+"/runs", nil, &queued)
	for i := 0; i < 200 && (queued.Status == "queued" || queued.Status == "running"); i++ {
		time.Sleep(100 * time.Millisecond)
		api(t, base, "GET", "/runs/"+queued.ID, nil, &queued)
	}

	pages := []struct{ name, path, wait string }{
		{"activations", "/activations", `[data-testid=activation-row]`},
		{"activation", "/activations/" + act.ID, `[data-testid=activation-tabs]`},
		{"activation-runs", "/activations/" + act.ID + "?tab=runs", `[data-testid=runs-table]`},
		{"run", "/runs/" + queued.ID, `h1`},
		{"copy", "/copy/activation/" + act.ID, `[data-testid=copy-no-target]`}, // its preview: TestCopyActivationPreviewAndCreate
		{"sources", "/sources", `[data-testid=source-row]`},
		{"source-new", "/sources/new", `[data-testid=source-kind]`},
		{"models", "/models", `[data-testid=model-row]`},
		{"model-new", "/models/new", `h1`},
		{"segments", "/segments", `[data-testid=segment-row]`},
		{"segment-new", "/segments/new", `h1`},
		{"platforms", "/settings/platforms", `[data-testid=platform-row]`},
		{"platform-new", "/settings/platforms/new", `#f-kind`},
		{"platform", "/settings/platforms/" + platform.ID, `h1`},
		{"incidents", "/incidents", `h1`},
		{"alerts", "/settings/alerts", `h1`},
		{"users", "/settings/users", `[data-testid=add-user]`},
		{"tokens", "/settings/tokens", `[data-testid=create-token]`},
		{"workspaces", "/settings/workspaces", `[data-testid=add-workspace]`},
		{"sso", "/settings/sso", `[data-testid=save-sso]`},
	}
	for _, p := range pages {
		run(t, ctx, p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)), check(p.name), shots.take("a11y-"+p.name))
	}
	for _, list := range []struct{ name, path, row string }{{"source", "/sources", "source-row"}, {"model", "/models", "model-row"}, {"segment", "/segments", "segment-row"}} {
		run(t, ctx, list.name, chromedp.Navigate(base+list.path), click(`[data-testid=`+list.row+`] a`), chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=`+list.row+`]`)),
			chromedp.WaitVisible(chromedp.CSS(`h1`)), check(list.name), shots.take("a11y-"+list.name))
	}

	step, next := wizardStep, wizardNext
	run(t, ctx, "wizard segment", chromedp.Navigate(base+"/activations/new"), step("segment"), check("wizard-segment"), pick("French VIP customers"))
	run(t, ctx, "wizard platform", next("platform"), check("wizard-platform"), pick("CRM webhook"))
	run(t, ctx, "wizard action", next("action"), check("wizard-action"))
	run(t, ctx, "wizard mappings", next("mappings"), check("wizard-mappings"))
	run(t, ctx, "wizard schedule", next("schedule"), check("wizard-schedule"))
	run(t, ctx, "wizard settings", next("settings"), check("wizard-settings"))
	run(t, ctx, "wizard review", next("review"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=payloads]`)), check("wizard-review"), shots.take("a11y-wizard-review"))
}
