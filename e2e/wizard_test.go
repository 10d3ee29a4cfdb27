package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An editor builds an activation of the demo segment through the wizard — segment,
// platform, action, the suggested mappings, a daily schedule in Paris time, settings —
// reviews the ten payloads it will send, creates it with a full resync first, and the
// webhook receives exactly the reviewed payloads, first of all the first one.
func TestWizardBuildsAnActivation(t *testing.T) {
	var (
		mu       sync.Mutex
		received []json.RawMessage
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Records []json.RawMessage `json:"records"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		received = append(received, body.Records...)
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer hook.Close()
	base := startSluice(t, "SLUICE_ALLOW_PRIVATE_NETWORKS=true")
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	shots.n = 80

	run(t, ctx, "set up", chromedp.Navigate(base+"/setup"), createAdmin("ada@acme.example", "correct horse battery"))
	run(t, ctx, "connect a webhook platform",
		chromedp.Navigate(base+"/settings/platforms/new"),
		choose("#f-kind", "webhook"),
		chromedp.WaitVisible(chromedp.CSS(`[name="config.url"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "CRM webhook"),
		chromedp.SendKeys(chromedp.CSS(`[name="config.url"]`), hook.URL),
		chromedp.Click(chromedp.CSS(`[data-testid=save-platform]`)),
		waitText(`[data-testid=platform-status]`, "Connected"),
	)

	step, next := wizardStep, wizardNext
	run(t, ctx, "segment step",
		chromedp.Navigate(base+"/activations"),
		chromedp.Click(chromedp.CSS(`[data-testid=new-activation]`)),
		step("segment"),
		pick("French VIP customers"),
		shots.take("wizard-segment"),
	)
	run(t, ctx, "platform step", next("platform"), pick("CRM webhook"), shots.take("wizard-platform"))
	run(t, ctx, "action step", next("action"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=choose-action]:checked`)), shots.take("wizard-action"))
	run(t, ctx, "mappings step", next("mappings"), shots.take("wizard-mappings"))
	rows := read(t, ctx, "read mappings", chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=mapping-row]')].map(r =>
		r.querySelector('[data-testid=map-from]').value + ':' + r.querySelector('[data-testid=map-to]').value + ':' + r.querySelector('[data-testid=map-type]').value)`))
	want := []string{"email:email:email", "first_name:first_name:string", "country:country:string", "phone:phone:phone", "age:age:number",
		"lifetime_value:lifetime_value:number", "vip:vip:boolean", "signed_up_at:signed_up_at:datetime", "last_order_on:last_order_on:datetime"}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("suggested mappings %v\nwant %v", rows, want)
	}
	run(t, ctx, "drop a mapping",
		click(`[data-testid=mapping-row]:last-child [data-testid=remove-mapping]`),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid=mapping-row]').length === 8`),
		settle,
	)
	run(t, ctx, "a bad cron expression is refused beside the field", next("schedule"),
		click(`[data-testid=schedule-cron]`),
		chromedp.WaitVisible(chromedp.CSS(`#f-expr`)),
		settle,
		typeValue(`#f-expr`, "every tuesday"),
		settle,
		click(`[data-testid=wizard-next]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-schedule.expr"]`)),
		settle,
		shots.take("wizard-schedule-error"),
	)
	run(t, ctx, "schedule step",
		click(`[data-testid=schedule-daily]`),
		chromedp.WaitVisible(chromedp.CSS(`#f-timezone`)),
		settle,
		typeValue(`#f-timezone`, "Europe/Paris"),
		settle,
		typeValue(`#f-at`, "07:30"),
		settle,
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid=next-run]').length === 3 && document.querySelector('[data-testid=next-run]').textContent.includes('07:30 CE')`),
		shots.take("wizard-schedule"),
	)
	run(t, ctx, "settings step", next("settings"),
		chromedp.SendKeys(chromedp.CSS(`#f-default_phone_region`), "FR"),
		chromedp.Click(chromedp.CSS(`[data-testid=full-resync-first]`)),
		shots.take("wizard-settings"),
	)
	run(t, ctx, "review step", next("review"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=payloads]`)), shots.take("wizard-review"))
	payloads := read(t, ctx, "read payloads", chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=payload]')].map(p => p.textContent)`))
	count := read(t, ctx, "read count", chromedp.Text(chromedp.CSS(`[data-testid=record-count]`)))
	if len(payloads) != 10 {
		t.Fatalf("the review shows %d payloads, want 10", len(payloads))
	}
	if n, err := strconv.Atoi(count); err != nil || n < 10 {
		t.Fatalf("record count %q", count)
	}

	run(t, ctx, "create",
		chromedp.SetValue(chromedp.CSS(`[data-testid=activation-name]`), "French VIPs to the CRM"),
		click(`[data-testid=create-activation]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)),
		shots.take("wizard-created"),
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook received nothing within 30s of creating the activation")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Let the run finish, then look at the activation page.
	for i := 0; i < 50; i++ {
		if h := read(t, ctx, "read health", chromedp.Text(chromedp.CSS(`[data-testid=activation-health]`))); h != "Never run" {
			break
		}
		run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=activation-health]`)))
	}
	run(t, ctx, "activation page", shots.take("wizard-first-run"),
		chromedp.Click(chromedp.CSS(`[data-testid=run-row] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-counts]`)),
		shots.take("wizard-run-page"),
	)
	sent := read(t, ctx, "read sent", chromedp.Text(chromedp.CSS(`[data-testid=count-sent]`)))

	mu.Lock()
	defer mu.Unlock()
	if strings.TrimSpace(sent) != strconv.Itoa(len(received)) {
		t.Fatalf("the run page says %s sent, the webhook received %d records", sent, len(received))
	}
	if len(received) < len(payloads) {
		t.Fatalf("the webhook received %d records, fewer than the %d reviewed", len(received), len(payloads))
	}
	for i, p := range payloads {
		var shown, sent any
		if err := json.Unmarshal([]byte(p), &shown); err != nil {
			t.Fatalf("payload %d is not JSON: %v", i, err)
		}
		if err := json.Unmarshal(received[i], &sent); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(shown, sent) {
			t.Fatalf("record %d: the webhook received %s\nthe review showed %s", i, received[i], p)
		}
	}
}

// wizardStep waits for the wizard to show a step.
func wizardStep(name string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`[data-testid=wizard][data-step=` + name + `]`))
}

// wizardNext clicks Next and waits for the step it leads to.
func wizardNext(to string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := click(`[data-testid=wizard-next]`)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := wizardStep(to)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, settled(ctx, t)
	}
}

// createThroughWizard walks the wizard, open at its first step, with what it proposes
// (the first segment and platform, the suggested mappings, a manual schedule), sets the
// default phone region and the name, and creates the activation.
func createThroughWizard(name, region string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		steps := []chromedp.Action[chromedp.Void]{wizardStep("segment")}
		for _, s := range []string{"platform", "action", "mappings", "schedule", "settings"} {
			steps = append(steps, wizardNext(s))
		}
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(`#f-default_phone_region`), region), wizardNext("review"),
			chromedp.SetValue(chromedp.CSS(`[data-testid=activation-name]`), name), click(`[data-testid=create-activation]`))
		return chromedp.Void{}, chromedp.Do(ctx, steps...)
	}
}

// settle waits for htmx to settle, as a step.
func settle(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	return chromedp.Void{}, settled(ctx, t)
}

// pick clicks the choice card whose text has text.
func pick(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if err := settled(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		js := fmt.Sprintf(`(() => { const c = [...document.querySelectorAll('.choice')].find(l => l.textContent.includes(%q));
			if (!c) return false; c.querySelector('input').click(); return c.querySelector('input').checked; })()`, text)
		ok, err := chromedp.Evaluate[bool](js)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("no choice %q", text)
		}
		return chromedp.Void{}, err
	}
}
