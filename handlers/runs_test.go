package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sluice/config"
	"sluice/connectors"
	"sluice/core"
	"sluice/demo"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/jobs"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/sqlite"
)

// runFixture is a delivery setup with a browser signed in as its admin.
type runFixture struct {
	*dlSetup
	browser *client
	act     activationBody
}

// newRunFixture is newDLSetup on the database at dbURL, with an activation.
func newRunFixture(t *testing.T, dbURL string) *runFixture {
	t.Helper()
	ws := newWHSetup(t, dbURL)
	s := &dlSetup{whSetup: ws, hook: newHook(t, http.StatusOK),
		operator: whToken(t, ws.app.store, models.DefaultWorkspaceID, models.RoleOperator)}
	s.platform = into[platformBody](t, s.admin.post("/platforms", map[string]any{
		"name": "Hook", "kind": "webhook", "config": map[string]any{"url": s.hook.url()},
	}).want(t, http.StatusCreated))
	s.model = s.whSetup.model(t, map[string]any{"name": "Customers", "table": "customers", "primary_key": "id"})
	s.segment = into[segmentBody](t, s.admin.as(s.editor).post("/segments", map[string]any{
		"model_id": s.model.ID, "name": "Everyone", "conditions": map[string]any{"all": []any{}},
	}).want(t, http.StatusCreated))
	_, browser := signedInAdmin(t, s.app)
	return &runFixture{dlSetup: s, browser: browser, act: s.activation(t, "Newsletter")}
}

// eachRunFixture runs fn on a fixture over each dialect.
func eachRunFixture(t *testing.T, fn func(t *testing.T, f *runFixture)) {
	t.Helper()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newRunFixture(t, d.URL(t)))
		})
	}
}

// user signs in a new browser as a user of role in the default workspace.
func (f *runFixture) user(t *testing.T, role models.Role) *client {
	t.Helper()
	return userIn(t, f.app, models.DefaultWorkspaceID, role)
}

// userIn creates a user of role in a workspace and signs a new browser in as them.
func userIn(t *testing.T, a *app, workspaceID string, role models.Role) *client {
	t.Helper()
	email := fmt.Sprintf("%s-%d@%s.example", role, time.Now().UnixNano(), workspaceID[:8])
	admin := models.Actor{WorkspaceID: workspaceID, Type: models.ActorSystem, Name: "test setup", Role: models.RoleAdmin}
	if _, err := a.store.CreateUser(t.Context(), admin, models.NewUser{Email: email, Name: string(role), Password: testutil.Password, Role: role}); err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	c.signIn(email, testutil.Password)
	return c
}

// startRun queues a run and claims it as a worker would: it is running.
func (f *runFixture) startRun(t *testing.T) *models.Run {
	t.Helper()
	queued := into[runBody](t, f.admin.as(f.operator).post("/activations/"+f.act.ID+"/runs", nil).want(t, http.StatusAccepted))
	r, err := f.app.store.ClaimRun(t.Context(), "test-worker", time.Minute)
	if err != nil || r.ID != queued.ID {
		t.Fatalf("claim %v, %v", r, err)
	}
	return r
}

// finish ends a running run.
func (f *runFixture) finish(t *testing.T, r *models.Run, o models.RunOutcome) {
	t.Helper()
	if err := f.app.store.FinishRun(t.Context(), r.ID, "test-worker", o); err != nil {
		t.Fatal(err)
	}
}

// issues adds n issues of a stage to a run, keyed k00000, k00001…
func issues(t testing.TB, s *models.Store, runID, stage string, n int) {
	t.Helper()
	list := make([]models.RunIssue, n)
	for i := range list {
		list[i] = models.RunIssue{RunID: runID, PrimaryKey: fmt.Sprintf("k%05d", i), Stage: stage, Code: "invalid_email", Field: "email",
			Message: fmt.Sprintf(`The e-mail address "user%d@" (column email) is not valid, "quoted", with a comma`, i)}
	}
	if err := s.AddRunIssues(context.Background(), list); err != nil {
		t.Fatal(err)
	}
}

func keysOf(sel *goquery.Selection) []string {
	var keys []string
	sel.Find("[data-testid=issue-row] td:first-child").Each(func(_ int, s *goquery.Selection) { keys = append(keys, s.Text()) })
	return keys
}

// The run page shows the first 100 issues of each stage and a "Load more" row; each
// next page (htmx rows) carries on from the last key, until every issue was shown once.
func TestRunPagePaginatesIssues(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		issues(t, f.app.store, r.ID, "source", 250)
		issues(t, f.app.store, r.ID, "destination", 3)
		f.finish(t, r, models.RunOutcome{Status: models.RunWarnings, Counts: models.RunCounts{Queried: 250, SourceIssues: 250}})

		page := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK)
		doc := page.Doc(t)
		src := doc.Find("#source-issues-card")
		if got := src.Find("[data-testid=issue-row]").Length(); got != 100 {
			t.Fatalf("source issues on the page: %d rows, want the first 100", got)
		}
		if got := strings.TrimSpace(src.Find("[data-testid=source-issues-total]").Text()); got != "250" {
			t.Errorf("source issues total %q", got)
		}
		if got := doc.Find("#rejections-card [data-testid=issue-row]").Length(); got != 3 {
			t.Errorf("rejections: %d rows, want 3", got)
		}
		if doc.Find("#rejections-card [data-testid=load-more]").Length() != 0 {
			t.Error("a single page of rejections offers to load more")
		}
		more := src.Find("[data-testid=load-more] a")
		next, _ := more.Attr("hx-get")
		if href, _ := more.Attr("href"); next == "" || href != next || !strings.Contains(next, "stage=source") || !strings.Contains(next, "cursor=") {
			t.Fatalf("load more: hx-get %q href %q", next, href)
		}
		keys := keysOf(src)
		for pages := 1; next != ""; pages++ {
			if pages > 3 {
				t.Fatal("more pages than 250 issues need")
			}
			rows := f.browser.get(next, "HX-Request", "true").want(t, http.StatusOK)
			if strings.Contains(rows.Body, "<html") {
				t.Fatal("the htmx page of issues is a whole page")
			}
			rdoc := rows.Rows(t)
			keys = append(keys, keysOf(rdoc.Selection)...)
			next, _ = rdoc.Find("[data-testid=load-more] a").Attr("hx-get")
			if next != "" && !strings.Contains(rdoc.Find("[data-testid=load-more]").Text(), fmt.Sprintf("%d of 250 shown", len(keys))) {
				t.Errorf("load more says %q after %d keys", rdoc.Find("[data-testid=load-more]").Text(), len(keys))
			}
		}
		want := make([]string, 250)
		for i := range want {
			want[i] = fmt.Sprintf("k%05d", i)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("paged through %d keys, want k00000…k00249 once each in order", len(keys))
		}

		// Followed without htmx, a page of issues is a page of its own.
		href, _ := src.Find("[data-testid=load-more] a").Attr("href")
		full := f.browser.get(href).want(t, http.StatusOK)
		if got := full.Count(t, "[data-testid=issue-row]"); got != 100 || !strings.Contains(full.Body, "<html") {
			t.Errorf("the page of issues opened alone has %d rows", got)
		}
		if got := keysOf(full.Doc(t).Selection); len(got) == 0 || got[0] != "k00100" {
			t.Errorf("the second page starts at %v", got[:min(1, len(got))])
		}
		f.browser.get("/runs/"+r.ID+"/issues?stage=warehouse", "HX-Request", "true").want(t, http.StatusBadRequest)
		f.browser.get("/runs/"+r.ID+"/issues", "HX-Request", "true").want(t, http.StatusBadRequest)
	})
}

// The CSV has every issue, streamed, with the API's fields; ?stage= narrows it.
func TestRunIssuesCSV(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		issues(t, f.app.store, r.ID, "source", 10000)
		issues(t, f.app.store, r.ID, "destination", 5)
		f.finish(t, r, models.RunOutcome{Status: models.RunWarnings})

		read := func(query string) (*response, [][]string) {
			t.Helper()
			res := f.browser.get("/runs/"+r.ID+"/issues.csv"+query).want(t, http.StatusOK)
			rows, err := csv.NewReader(strings.NewReader(res.Body)).ReadAll()
			if err != nil {
				t.Fatalf("CSV does not parse: %v", err)
			}
			return res, rows
		}
		res, all := read("")
		if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("content type %q", ct)
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
			t.Errorf("content disposition %q", cd)
		}
		if !slices.Equal(all[0], []string{"primary_key", "stage", "code", "field", "message"}) {
			t.Fatalf("header %v", all[0])
		}
		if len(all) != 1+10005 {
			t.Fatalf("CSV has %d rows, want a header and 10,005 issues", len(all))
		}
		first := all[1]
		if first[0] != "k00000" || first[1] != "source" || first[2] != "invalid_email" || first[3] != "email" ||
			first[4] != `The e-mail address "user0@" (column email) is not valid, "quoted", with a comma` {
			t.Errorf("first row %q", first)
		}
		_, src := read("?stage=source")
		seen := map[string]bool{}
		for _, row := range src[1:] {
			if row[1] != "source" || seen[row[0]] {
				t.Fatalf("source CSV row %v (seen before: %v)", row, seen[row[0]])
			}
			seen[row[0]] = true
		}
		if len(seen) != 10000 {
			t.Errorf("source CSV has %d distinct keys, want 10,000", len(seen))
		}
		res, dst := read("?stage=destination")
		if len(dst) != 6 || dst[1][1] != "destination" {
			t.Errorf("destination CSV: %d rows", len(dst))
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "destination") {
			t.Errorf("destination file name %q", cd)
		}
		f.browser.get("/runs/"+r.ID+"/issues.csv?stage=warehouse").want(t, http.StatusBadRequest)
		f.browser.get("/runs/nope/issues.csv").want(t, http.StatusNotFound)

		// The page links to the CSV of each stage.
		doc := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK).Doc(t)
		if href, _ := doc.Find("[data-testid=source-issues-csv]").Attr("href"); href != "/runs/"+r.ID+"/issues.csv?stage=source" {
			t.Errorf("CSV link %q", href)
		}
	})
}

// While a run runs, its page and the progress partial poll every second, with the
// stage, the rows processed and a bar sized by the last complete run; once it is over,
// the partial comes without the trigger, and the page shows counts and timing.
func TestRunProgress(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {

		// The first run: no size known, the bar is indeterminate.
		r := f.startRun(t)
		if err := f.app.store.Heartbeat(t.Context(), r.ID, "test-worker", time.Minute, "extract", 1234); err != nil {
			t.Fatal(err)
		}
		part := f.browser.get("/runs/"+r.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK)
		doc := part.Doc(t)
		box := doc.Find("[data-testid=run-progress]")
		if trig, _ := box.Attr("hx-trigger"); trig != "every 1s" {
			t.Fatalf("a running run's progress has hx-trigger %q", trig)
		}
		if get, _ := box.Attr("hx-get"); get != "/runs/"+r.ID+"/progress" {
			t.Errorf("polls %q", get)
		}
		if got := part.Text(t, "[data-testid=progress-processed]"); got != "1,234" {
			t.Errorf("processed %q", got)
		}
		if got := part.Text(t, "[data-testid=progress-stage]"); !strings.Contains(got, "Extracting") {
			t.Errorf("stage %q", got)
		}
		if _, has := doc.Find("progress").Attr("value"); has {
			t.Error("with no size known the bar should be indeterminate (no value)")
		}
		if part.Header.Get("HX-Refresh") != "" {
			t.Error("a running run asks for a reload")
		}
		page := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK)
		if trig, _ := page.Doc(t).Find("[data-testid=run-progress]").Attr("hx-trigger"); trig != "every 1s" {
			t.Error("the page of a running run does not poll its progress")
		}
		if page.Count(t, "[data-testid=run-counts]") != 0 {
			t.Error("a running run shows counts it does not have yet")
		}
		stages := []models.RunStage{
			{Stage: "preflight", StartedAt: time.Now().Add(-3 * time.Second), FinishedAt: time.Now().Add(-2900 * time.Millisecond)},
			{Stage: "extract", StartedAt: time.Now().Add(-2900 * time.Millisecond), FinishedAt: time.Now().Add(-400 * time.Millisecond), Processed: 2000},
			{Stage: "load", StartedAt: time.Now().Add(-400 * time.Millisecond), FinishedAt: time.Now(), Processed: 2000},
		}
		f.finish(t, r, models.RunOutcome{Status: models.RunSucceeded, Counts: models.RunCounts{Queried: 2000, Added: 2000, Sent: 2000}, Stages: stages})

		done := f.browser.get("/runs/"+r.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK)
		if done.Doc(t).Find("[hx-trigger]").Length() != 0 || strings.Contains(done.Body, "hx-trigger") {
			t.Errorf("a finished run's progress still polls: %s", done.Body)
		}
		if done.Header.Get("HX-Refresh") != "true" {
			t.Error("the last poll does not reload the page to show the results")
		}
		finished := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK)
		if finished.Count(t, "[data-testid=run-progress]") != 0 || strings.Contains(finished.Body, "hx-trigger") {
			t.Error("a finished run's page polls")
		}
		if got := finished.Text(t, "[data-testid=count-sent]"); got != "2,000" {
			t.Errorf("sent %q", got)
		}
		var timing []string
		finished.Doc(t).Find("[data-testid=timing-row]").Each(func(_ int, s *goquery.Selection) {
			timing = append(timing, strings.Join(strings.Fields(s.Text()), " "))
		})
		if len(timing) != 4 || !strings.HasPrefix(timing[0], "Queued") || !strings.HasPrefix(timing[2], "Extract and send 2,000 rows") ||
			!strings.HasSuffix(timing[2], "2.5 s") || !strings.HasPrefix(timing[3], "Last batch") || !strings.HasSuffix(timing[3], "400 ms") {
			t.Errorf("timing rows %q", timing)
		}

		// The next run knows the segment's size: the bar is determinate.
		r2 := f.startRun(t)
		if err := f.app.store.Heartbeat(t.Context(), r2.ID, "test-worker", time.Minute, "extract", 500); err != nil {
			t.Fatal(err)
		}
		bar := f.browser.get("/runs/"+r2.ID+"/progress", "HX-Request", "true").want(t, http.StatusOK).Doc(t).Find("progress")
		if max, _ := bar.Attr("max"); max != "2000" {
			t.Errorf("bar max %q, want the last run's 2000 rows", max)
		}
		if v, _ := bar.Attr("value"); v != "500" {
			t.Errorf("bar value %q", v)
		}
	})
}

// Operators cancel a run from its page: a running one gets cancel_requested, a queued
// one is cancelled at once; viewers may not; a finished run says so.
func TestRunCancel(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		viewer, operator := f.user(t, models.RoleViewer), f.user(t, models.RoleOperator)
		r := f.startRun(t)

		page := "/runs/" + r.ID
		if viewer.get(page).want(t, http.StatusOK).Count(t, "[data-testid=cancel-run]") != 0 {
			t.Error("a viewer sees the cancel button")
		}
		if operator.get(page).want(t, http.StatusOK).Count(t, "[data-testid=cancel-run]") != 1 {
			t.Fatal("an operator has no cancel button on a running run")
		}
		viewer.post(page+"/cancel", url.Values{"_csrf": {viewer.csrf(page)}}).want(t, http.StatusForbidden)
		operator.post(page+"/cancel", url.Values{}).want(t, http.StatusForbidden) // no CSRF token
		if got, _ := f.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, r.ID); got.CancelRequested {
			t.Fatal("a refused cancel took effect")
		}
		res := operator.post(page+"/cancel", url.Values{"_csrf": {operator.csrf(page)}}).want(t, http.StatusSeeOther)
		if res.Location() != page {
			t.Errorf("cancel redirects to %q", res.Location())
		}
		got, err := f.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, r.ID)
		if err != nil || !got.CancelRequested || got.Status != models.RunRunning {
			t.Fatalf("after cancel: %+v %v", got, err)
		}
		after := operator.get(page).want(t, http.StatusOK)
		if !strings.Contains(after.Text(t, ".flash"), "Cancel requested") || after.Count(t, "[data-testid=cancel-requested]") != 1 || after.Count(t, "[data-testid=cancel-run]") != 0 {
			t.Errorf("after cancel the page says %q", after.Text(t, ".flash"))
		}
		// The worker sees it at its next heartbeat.
		if err := f.app.store.Heartbeat(t.Context(), r.ID, "test-worker", time.Minute, "extract", 10); err != models.ErrCancelled {
			t.Errorf("heartbeat after cancel: %v", err)
		}
		f.finish(t, r, models.RunOutcome{Status: models.RunCancelled, ErrorCategory: "connection", ErrorMessage: "The run was stopped.", Counts: models.RunCounts{Added: 3, Unsent: 3}})
		cancelled := operator.get(page).want(t, http.StatusOK)
		if cancelled.Count(t, "[data-testid=run-error]") != 0 || cancelled.Count(t, "[data-testid=fix-button]") != 0 ||
			!strings.Contains(cancelled.Text(t, "[data-testid=run-cancelled]"), "The 3 changes it had not sent are planned again next run") {
			t.Errorf("a cancelled run reads as an error: %q", cancelled.Text(t, "[data-testid=run-error]"))
		}
		over := operator.post(page+"/cancel", url.Values{"_csrf": {operator.csrf(page)}}).want(t, http.StatusSeeOther)
		if !strings.Contains(operator.get(over.Location()).Text(t, ".flash"), "over already") {
			t.Error("cancelling a finished run does not say it is over")
		}

		queued := into[runBody](t, f.admin.as(f.operator).post("/activations/"+f.act.ID+"/runs", nil).want(t, http.StatusAccepted))
		operator.post("/runs/"+queued.ID+"/cancel", url.Values{"_csrf": {operator.csrf(page)}}).want(t, http.StatusSeeOther)
		if q, _ := f.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, queued.ID); q.Status != models.RunCancelled {
			t.Errorf("queued run after cancel: %s", q.Status)
		}
		operator.post("/runs/nope/cancel", url.Values{"_csrf": {operator.csrf(page)}}).want(t, http.StatusNotFound)
	})
}

// The log filter answers the log card alone for htmx, with the lines of one level.
func TestRunLogFilter(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		now := time.Now().UTC()
		if err := f.app.store.AddRunLogs(t.Context(), []models.RunLog{
			{RunID: r.ID, At: now, Level: "info", Message: "Extracting the segment"},
			{RunID: r.ID, At: now.Add(time.Millisecond), Level: "warn", Message: "Batch 3: the destination rejected 2 of 100 records."},
			{RunID: r.ID, At: now.Add(2 * time.Millisecond), Level: "error", Message: "The run stopped (Rate Limit)"},
		}); err != nil {
			t.Fatal(err)
		}
		f.finish(t, r, models.RunOutcome{Status: models.RunFailed, ErrorCategory: "rate_limit", ErrorMessage: "Too many requests."})
		for level, want := range map[string][]string{"": {"info", "warn", "error"}, "info": {"info"}, "warn": {"warn"}, "error": {"error"}} {
			q := ""
			if level != "" {
				q = "?level=" + level
			}
			res := f.browser.get("/runs/"+r.ID+q, "HX-Request", "true").want(t, http.StatusOK)
			if strings.Contains(res.Body, "<html") || res.Count(t, "#run-log-card") != 1 {
				t.Fatalf("level %q: not the log card alone", level)
			}
			var got []string
			res.Doc(t).Find(".log-line").Each(func(_ int, s *goquery.Selection) { got = append(got, strings.TrimSpace(s.Find(".log-level").Text())) })
			if !slices.Equal(got, want) {
				t.Errorf("level %q shows %v, want %v", level, got, want)
			}
			if active := res.Text(t, "[data-testid=log-levels] a.active"); active == "" {
				t.Errorf("level %q: no filter marked active", level)
			}
		}
		full := f.browser.get("/runs/"+r.ID+"?level=error").want(t, http.StatusOK)
		if full.Count(t, "[data-testid=run-counts]") != 1 || full.Count(t, ".log-line") != 1 {
			t.Error("the filtered page opened directly is not the whole page with the filtered log")
		}
		f.browser.get("/runs/"+r.ID+"?level=debug").want(t, http.StatusBadRequest)
	})
}

// The record lookup lists a key's entries newest first, with the issue that withheld
// it; a key never seen gets a plain sentence.
func TestRecordLookup(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		ctx := t.Context()
		fate := []struct {
			kind, detail string
			issue        *models.RunIssue
		}{
			{"added", "", nil},
			{"changed", "", nil},
			{"withheld", `The e-mail address "ada@" (column email) is not valid.`, &models.RunIssue{Stage: "source", Code: "invalid_email", Field: "email", Message: `The e-mail address "ada@" (column email) is not valid.`}},
		}
		var runs []string
		for _, fa := range fate {
			r := f.startRun(t)
			runs = append(runs, r.ID)
			if err := f.app.store.AddRunChanges(ctx, []models.RunChange{{RunID: r.ID, ActivationID: f.act.ID, PrimaryKey: "42", Kind: fa.kind, Detail: fa.detail},
				{RunID: r.ID, ActivationID: f.act.ID, PrimaryKey: "7", Kind: "added"}}); err != nil {
				t.Fatal(err)
			}
			if fa.issue != nil {
				is := *fa.issue
				is.RunID, is.PrimaryKey = r.ID, "42"
				if err := f.app.store.AddRunIssues(ctx, []models.RunIssue{is}); err != nil {
					t.Fatal(err)
				}
			}
			status := models.RunSucceeded
			if fa.issue != nil {
				status = models.RunWarnings
			}
			f.finish(t, r, models.RunOutcome{Status: status})
			time.Sleep(2 * time.Millisecond) // entries order by time
		}

		res := f.browser.get("/activations/"+f.act.ID+"/records?key=42", "HX-Request", "true").want(t, http.StatusOK)
		if strings.Contains(res.Body, "<html") {
			t.Fatal("the htmx lookup answers a whole page")
		}
		doc := res.Doc(t)
		var kinds, links []string
		doc.Find("[data-testid=timeline-entry]").Each(func(_ int, s *goquery.Selection) {
			k, _ := s.Attr("data-kind")
			kinds = append(kinds, k)
			href, _ := s.Find(".timeline-when a").Attr("href")
			links = append(links, href)
		})
		if !slices.Equal(kinds, []string{"withheld", "changed", "added"}) {
			t.Fatalf("timeline %v, want withheld, changed, added (newest first)", kinds)
		}
		if !slices.Equal(links, []string{"/runs/" + runs[2], "/runs/" + runs[1], "/runs/" + runs[0]}) {
			t.Errorf("entries link to %v", links)
		}
		why := res.Text(t, "[data-testid=timeline-why]")
		if !strings.Contains(why, "invalid_email") || !strings.Contains(why, `"ada@"`) {
			t.Errorf("withheld without its reason: %q", why)
		}
		if res.Count(t, "[data-testid=timeline-detail]") != 0 {
			t.Error("the withheld detail repeats the issue's message")
		}

		never := f.browser.get("/activations/"+f.act.ID+"/records?key=nobody", "HX-Request", "true").want(t, http.StatusOK)
		if got := never.Text(t, "[data-testid=lookup-empty]"); got != "This key was not in the segment in the last 3 runs." {
			t.Errorf("unknown key: %q", got)
		}
		empty := f.browser.get("/activations/"+f.act.ID+"/records?key=+", "HX-Request", "true").want(t, http.StatusUnprocessableEntity)
		if empty.Text(t, "[data-testid=lookup-error]") == "" {
			t.Error("an empty key is not explained")
		}
		// Without htmx the form opens a page of its own; the activation page has the form.
		alone := f.browser.get("/activations/"+f.act.ID+"/records?key=42").want(t, http.StatusOK)
		if alone.Count(t, "[data-testid=timeline-entry]") != 3 || alone.Count(t, "[data-testid=lookup-key]") != 1 {
			t.Error("the lookup page opened alone lacks its form or timeline")
		}
		show := f.browser.get("/activations/"+f.act.ID).want(t, http.StatusOK)
		form := show.Doc(t).Find("[data-testid=record-lookup] form")
		if get, _ := form.Attr("hx-get"); get != "/activations/"+f.act.ID+"/records" {
			t.Errorf("the activation page's lookup form asks %q", get)
		}
		f.browser.get("/activations/nope/records?key=42").want(t, http.StatusNotFound)
	})
}

// Another workspace's run and activation are not found, on every route of this file.
func TestRunPagesOfAnotherWorkspace(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		r := f.startRun(t)
		issues(t, f.app.store, r.ID, "source", 3)
		ws, err := f.app.store.CreateWorkspace(t.Context(), "Other Co")
		if err != nil {
			t.Fatal(err)
		}
		other := userIn(t, f.app, ws.ID, models.RoleAdmin)
		token := other.csrf("/activations")
		for _, p := range []string{"/runs/" + r.ID, "/runs/" + r.ID + "?level=error", "/runs/" + r.ID + "/issues?stage=source", "/runs/" + r.ID + "/issues.csv",
			"/runs/" + r.ID + "/progress", "/activations/" + f.act.ID + "/records?key=k00000"} {
			other.get(p).want(t, http.StatusNotFound)
			other.get(p, "HX-Request", "true").want(t, http.StatusNotFound)
		}
		other.post("/runs/"+r.ID+"/cancel", url.Values{"_csrf": {token}}).want(t, http.StatusNotFound)
		if got, _ := f.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, r.ID); got.CancelRequested {
			t.Error("another workspace cancelled the run")
		}
	})
}

// A real run through the delivery service records when each stage began and ended,
// and the run page shows them.
func TestRunRecordsStageTimings(t *testing.T) {
	t.Parallel()
	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		queued := into[runBody](t, f.admin.as(f.operator).post("/activations/"+f.act.ID+"/runs", nil).want(t, http.StatusAccepted))
		reg := connectors.NewRegistry()
		reg.RegisterSource(sqlite.New(os.TempDir()))
		reg.RegisterDestination(webhook.New(true))
		runner := jobs.NewRunner(f.app.store, core.New(f.app.store, reg), slog.New(slog.DiscardHandler), jobs.Options{})
		if !runner.RunOne(t.Context()) {
			t.Fatal("no run to execute")
		}
		r, err := f.app.store.RunByID(t.Context(), models.DefaultWorkspaceID, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Finished() || r.Sent == 0 {
			t.Fatalf("run %s sent %d: %s", r.Status, r.Sent, r.ErrorMessage)
		}
		var names []string
		for i, s := range r.Stages() {
			names = append(names, s.Stage)
			if s.StartedAt.IsZero() || s.FinishedAt.Before(s.StartedAt) || (i > 0 && s.StartedAt.Before(r.Stages()[i-1].FinishedAt)) {
				t.Errorf("stage %+v", s)
			}
		}
		if !slices.Equal(names, []string{"preflight", "extract", "load"}) {
			t.Fatalf("stages %v", names)
		}
		if st := r.Stages(); st[1].Processed != r.Queried {
			t.Errorf("extract processed %d rows, the run queried %d", st[1].Processed, r.Queried)
		}
		if n := f.browser.get("/runs/"+r.ID).want(t, http.StatusOK).Count(t, "[data-testid=timing-row]"); n < 4 {
			t.Errorf("timing card has %d rows", n)
		}
	})
}

// BenchmarkRunPage10kIssues renders the page of a run with 10,000 source issues, as a
// signed-in browser asks for it (docs/benchmarks.md). The page shows the first 100 and
// a "Load more" row, never all of them.
func BenchmarkRunPage10kIssues(b *testing.B) {
	for _, d := range testutil.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			store := testutil.Store(b, d.URL(b))
			base, runID := benchRunWithIssues(b, store, 10000)
			hc := benchSignIn(b, base)
			get := func() string {
				res, err := hc.Get(base + "/runs/" + runID)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					b.Fatalf("GET run page: %d %v", res.StatusCode, err)
				}
				return string(body)
			}
			body := get()
			if n := strings.Count(body, `data-testid="issue-row"`); n != 100 || !strings.Contains(body, `data-testid="load-more"`) || !strings.Contains(body, "10,000") {
				b.Fatalf("the page shows %d issue rows (want 100 and a Load more control)", n)
			}
			b.ResetTimer()
			for b.Loop() {
				get()
			}
			b.ReportMetric(float64(len(body)), "page-bytes")
		})
	}
}

// BenchmarkRunIssuesCSV10k downloads the CSV of the same run's 10,000 issues.
func BenchmarkRunIssuesCSV10k(b *testing.B) {
	for _, d := range testutil.Dialects {
		b.Run(d.Name, func(b *testing.B) {
			store := testutil.Store(b, d.URL(b))
			base, runID := benchRunWithIssues(b, store, 10000)
			hc := benchSignIn(b, base)
			var size int64
			for b.Loop() {
				res, err := hc.Get(base + "/runs/" + runID + "/issues.csv")
				if err != nil {
					b.Fatal(err)
				}
				body := &countingReader{r: res.Body}
				rows, err := csv.NewReader(body).ReadAll()
				res.Body.Close()
				if err != nil || len(rows) != 10001 {
					b.Fatalf("CSV: %d rows, %v", len(rows), err)
				}
				size = body.n
			}
			b.ReportMetric(float64(size), "csv-bytes")
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// benchRunWithIssues serves Sluice on store with the demo's source and segment, a
// webhook platform, an activation and one finished run with n source issues.
func benchRunWithIssues(b *testing.B, store *models.Store, n int) (string, string) {
	ctx := context.Background()
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(os.TempDir()))
	hook := webhook.New(true)
	reg.RegisterDestination(hook)
	e, _ := handlersFor(store, box, config.Default(), reg)
	wh := core.New(store, reg)
	srv := httptest.NewServer(e)
	b.Cleanup(srv.Close)

	_, actor := testutil.Admin(b, store)
	if _, err := demo.Seed(ctx, store, wh, b.TempDir()); err != nil {
		b.Fatal(err)
	}
	segs, err := store.ListSegments(ctx, models.DefaultWorkspaceID, "")
	if err != nil || len(segs) == 0 {
		b.Fatalf("demo segments: %v", err)
	}
	p, err := store.CreatePlatform(ctx, actor, hook.Spec(), models.PlatformInput{Name: "Hook", Config: connectors.Config{"url": srv.URL + "/hook"}})
	if err != nil {
		b.Fatal(err)
	}
	act, err := store.CreateActivation(ctx, actor, models.ActivationInput{Name: "Bench", SegmentID: segs[0].ID, PlatformID: p.ID, Action: "sync_records",
		Mappings: []models.Mapping{{From: "email", To: "email", Type: "email"}}, Schedule: models.Schedule{Kind: "manual"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.EnqueueRun(ctx, models.DefaultWorkspaceID, act.ID, models.TriggerManual, nil, false); err != nil {
		b.Fatal(err)
	}
	r, err := store.ClaimRun(ctx, "bench", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	issues(b, store, r.ID, "source", n)
	if err := store.FinishRun(ctx, r.ID, "bench", models.RunOutcome{Status: models.RunWarnings,
		Counts: models.RunCounts{Queried: int64(n), SourceIssues: int64(n)}}); err != nil {
		b.Fatal(err)
	}
	return srv.URL, r.ID
}

// benchSignIn signs a browser in as testutil's admin.
func benchSignIn(b *testing.B, base string) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	token, _ := doc.Find("input[name=_csrf]").First().Attr("value")
	res, err = hc.PostForm(base+"/login", url.Values{"_csrf": {token}, "email": {"admin@example.com"}, "password": {testutil.Password}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", res.StatusCode)
	}
	return hc
}
