// Package e2e drives the real sluice binary in headless Chromium through the golden
// paths, and saves a screenshot of every page it visits (e2e/screenshots/).
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser; without one the test skips, except in CI.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("SLUICE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is required in CI (apt-get install chromium)")
	}
	t.Skip("Chromium not found; set SLUICE_CHROMIUM or apt-get install chromium")
	return ""
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// binDir holds the one Sluice binary the browser tests start (built once: a build that
// only links still takes seconds, and the tests start Sluice about thirty times).
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sluiceBinary builds Sluice on first use and returns its path.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "sluice")
	buildOnce.Do(func() {
		build := exec.Command("go", "build", "-o", bin, "sluice")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// startSluice builds and runs the binary as a newcomer would: no settings but a data dir.
func startSluice(t *testing.T, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := sluiceBinary(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Dir = dir
	// The demo keeps to its data (warehouse, models, segments) unless a test asks for its
	// story (SLUICE_DEMO_STORY=true): most tests build their own activations on it.
	cmd.Env = append(os.Environ(), "SLUICE_DATA_DIR="+filepath.Join(dir, "data"), fmt.Sprintf("SLUICE_LISTEN=127.0.0.1:%d", port), "SLUICE_BASE_URL="+base, "SLUICE_CONFIG="+filepath.Join(dir, "none.yaml"),
		"SLUICE_DEMO_STORY=false")
	cmd.Env = append(cmd.Env, env...)
	logs, err := os.Create(filepath.Join(dir, "sluice.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logs.Name())
			t.Logf("sluice log:\n%s", out)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newBrowser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser on this long-lived context: each step then runs under its own
	// timeout without taking the browser down with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// screenshots saves full-page PNGs where a person can look at them.
type screenshots struct {
	t   *testing.T
	dir string
	n   int
}

func (s *screenshots) take(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		// Right after a navigation the new page may not be laid out yet ("0 width"):
		// give it a moment rather than fail the test on a picture.
		var png []byte
		var err error
		for range 10 {
			if png, err = chromedp.FullScreenshot(100)(ctx, t); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return chromedp.Void{}, err
		}
		s.n++
		return chromedp.Void{}, os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name)), png, 0o644)
	}
}

func newScreenshots(t *testing.T) *screenshots {
	dir := os.Getenv("SLUICE_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &screenshots{t: t, dir: dir}
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(stepCtx, actions...); err != nil {
		// A picture of the page as it was says more than a timeout.
		if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(filepath.Join(os.TempDir(), "sluice-e2e-failure.png"), png, 0o644)
			t.Logf("screenshot of the failure: %s", filepath.Join(os.TempDir(), "sluice-e2e-failure.png"))
		}
		t.Fatalf("%s: %v", step, err)
	}
}

// read runs one action that returns a value.
func read[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(stepCtx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

func currentPath(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc := read(t, ctx, "read location", chromedp.Location())
	i := strings.Index(loc[len("http://"):], "/")
	return loc[len("http://")+i:]
}

// createAdmin fills /setup, which a new installation shows, and lands on Activations.
func createAdmin(email, password string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=create-admin]`)),
			chromedp.SendKeys(chromedp.CSS(`#f-workspace`), "Acme Inc"),
			chromedp.SendKeys(chromedp.CSS(`#f-name`), "Ada Lovelace"),
			chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
			chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
			chromedp.Click(chromedp.CSS(`[data-testid=create-admin]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-out]`)),
		)
	}
}

// The golden path of a new installation: set up the first admin, sign out, sign in
// again to a deep link, walk every navigation entry, add a user and an API token.
func TestFirstAdminWalksEveryPage(t *testing.T) {
	base := startSluice(t)
	ctx := newBrowser(t)
	shots := newScreenshots(t)
	const email, password = "ada@acme.example", "correct horse battery"

	run(t, ctx, "open a deep link signed out",
		chromedp.Navigate(base+"/settings/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=create-admin]`)),
		shots.take("setup"),
	)
	if p := currentPath(t, ctx); p != "/setup" {
		t.Fatalf("a new installation should send visitors to /setup, got %s", p)
	}
	run(t, ctx, "create the first admin", createAdmin(email, password), shots.take("activations-first-visit"))
	ws := read(t, ctx, "read workspace", chromedp.Text(chromedp.CSS(`[data-testid=workspace-name]`)))
	if ws != "Acme Inc" {
		t.Fatalf("workspace name in the frame = %q", ws)
	}

	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-in]`)),
	)
	run(t, ctx, "a deep link while signed out goes through sign-in and back",
		chromedp.Navigate(base+"/settings/audit?resource=session"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-in]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "wrong password!"),
		chromedp.Click(chromedp.CSS(`[data-testid=sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-error]`)),
		shots.take("login-wrong-password"),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-filters]`)),
	)
	if p := currentPath(t, ctx); p != "/settings/audit?resource=session" {
		t.Fatalf("after sign-in the visitor should be back at the deep link, got %s", p)
	}

	nav := []struct{ testid, title string }{
		{"activations", "Activations"}, {"segments", "Segments"}, {"models", "Models"}, {"sources", "Sources"},
		{"platforms", "Platforms"}, {"alerts", "Alerts"}, {"users", "Users"}, {"tokens", "API tokens"}, {"audit", "Audit log"},
	}
	for _, n := range nav {
		run(t, ctx, "open "+n.title,
			chromedp.Click(chromedp.CSS(`[data-testid=nav-`+n.testid+`]`)),
			chromedp.WaitVisible(chromedp.CSS(`a.active[data-testid=nav-`+n.testid+`]`)),
			shots.take(n.testid),
		)
		h1 := read(t, ctx, "read title", chromedp.Text(chromedp.CSS(`h1`)))
		if h1 != n.title {
			t.Errorf("nav %s opened a page titled %q", n.testid, h1)
		}
	}

	run(t, ctx, "add a user",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-users]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=add-user]`)),
		chromedp.SendKeys(chromedp.CSS(`#user-form #f-email`), "grace@localhost"),
		chromedp.SendKeys(chromedp.CSS(`#user-form #f-password`), "long enough password"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-email]`)),
		shots.take("users-invalid"),
		chromedp.SetValue(chromedp.CSS(`#user-form #f-email`), "grace@acme.example"),
		chromedp.SetValue(chromedp.CSS(`#user-form #f-password`), "another good passphrase"),
		chromedp.SetValue(chromedp.CSS(`#user-form #f-role`), "editor"),
		chromedp.Click(chromedp.CSS(`[data-testid=add-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert-success`)),
		shots.take("users-added"),
	)
	rows := read(t, ctx, "count users", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=user-row]').length`))
	if rows != 2 {
		t.Fatalf("users table has %d rows after adding one, want 2", rows)
	}

	run(t, ctx, "create an API token",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-tokens]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=create-token]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "terraform"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-token]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=token-value]`)),
		shots.take("token-created"),
	)
	token := read(t, ctx, "read token", chromedp.Text(chromedp.CSS(`[data-testid=token-value]`)))
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/activations", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the token shown once does not work on the API: %d", resp.StatusCode)
	}

	run(t, ctx, "audit log shows the changes",
		chromedp.Click(chromedp.CSS(`[data-testid=nav-audit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-table]`)),
		shots.take("audit-after-changes"),
	)
	run(t, ctx, "an unknown page says so",
		chromedp.Navigate(base+"/activations/does-not-exist"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-page]`)),
		shots.take("not-found"),
	)
}
