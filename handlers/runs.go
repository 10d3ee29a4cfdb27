package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/internal/csvsafe"
	"sluice/models"
	"sluice/views/runsview"
)

// RunHandler serves one run's page and its parts — issues a page at a time and as
// CSV, live progress, cancel — and the record lookup of an activation.
type RunHandler struct{ *Server }

const (
	// runIssuesPage is how many issues the run page shows at once: a run with 10,000
	// issues renders its first page, never all of them.
	runIssuesPage = 100
	// runIssueReasons is how many reasons of each kind of issue the run page sums up;
	// the rest are counted together.
	runIssueReasons = 20
	// runCSVPage is how many issues the CSV reads at a time: it streams, whatever the count.
	runCSVPage = 500
	// runLogLines is how many log lines the page shows; the API lists them all.
	runLogLines = 500
	// runSamplesShown and runSampleBody bound the debugger, so a run with many failing
	// requests still renders quickly; the API has every exchange whole.
	runSamplesShown = 20
	runSampleBody   = 16 << 10
)

// Show is one run's page: status, live progress while it runs, counts, timing per
// stage, the error with its fix, each kind of issue summed up by reason with its first
// page (?stage=&code=&field=&message= narrows one kind to one reason), the log and the
// requests sent. The log's level filter (?level=) asks htmx for the log card alone.
func (h *RunHandler) Show(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	// The run first: another workspace's answers not found, whatever the query says.
	r, a, err := h.runWithActivation(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("show run: %w", err)
	}
	level := c.QueryParam("level")
	if level != "" && !slices.Contains(runsview.LogLevels(), level) {
		return echo.NewHTTPError(http.StatusBadRequest, "The log level must be info, warn or error.")
	}
	filter, err := issueFilter(c, false)
	if err != nil {
		return err
	}
	logs := runsview.LogProps{RunID: r.ID, Level: level, Limit: runLogLines, Running: !r.Finished()}
	var levels []string
	if level != "" {
		levels = []string{level}
	}
	if logs.Lines, err = h.store.RunLogs(ctx, r, runLogLines, levels...); err != nil {
		return fmt.Errorf("run logs: %w", err)
	}
	if wantsPartial(c) { // the level filter swaps the log card only
		return h.render(c, http.StatusOK, runsview.RunLog(logs), runsview.RunLog(logs))
	}
	p := runsview.RunProps{Run: r, Activation: a, Logs: logs}
	if r.Status != models.RunCancelled {
		p.Fix = fixButton(c, runFix(ctx, h.store, r, a, nil))
	}
	if p.SourceIssues, p.Rejections, err = h.firstIssuePages(ctx, r, filter); err != nil {
		return err
	}
	samples, err := h.store.RunSamples(ctx, r)
	if err != nil {
		return fmt.Errorf("run samples: %w", err)
	}
	p.Samples = samplesOf(samples)
	if p.Warnings, err = h.syncWarnings(ctx, c, r); err != nil {
		return fmt.Errorf("run warnings: %w", err)
	}
	if !r.Finished() {
		if p.Progress, err = h.progress(ctx, ws, r); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, runsview.RunPage(p), runsview.RunLog(logs))
}

// Issue stages, as the store and the query string name them.
const (
	engineStageSource      = "source"
	engineStageDestination = "destination"
)

// runWithActivation reads a run of the workspace and its activation's ref in one
// query; a run whose activation is gone is not found, as its pages need the activation.
func (h *RunHandler) runWithActivation(ctx context.Context, ws, id string) (*models.Run, models.ActivationRef, error) {
	r, a, err := h.store.RunWithActivation(ctx, ws, id)
	if err == nil && a.ID == "" {
		err = models.ErrNotFound
	}
	return r, a, err
}

// issuePage reads one page of a run's issues that f selects (one stage), and how many
// there are.
func (h *RunHandler) issuePage(ctx context.Context, r *models.Run, f models.IssueFilter, shown int) (runsview.IssuePage, error) {
	p := runsview.IssuePage{RunID: r.ID, Stage: f.Stage, Reason: f.Reason, Shown: shown}
	cursor := f.Cursor
	f.Limit = runIssuesPage
	var err error
	if p.Issues, p.Next, err = h.store.RunIssues(ctx, r, f); err != nil {
		return p, fmt.Errorf("run issues: %w", err)
	}
	if cursor == "" && p.Next == "" { // a first page that holds them all counts them
		p.Total = int64(len(p.Issues))
		return p, nil
	}
	f.Cursor = ""
	if p.Total, err = h.store.CountRunIssues(ctx, r.ID, f); err != nil {
		return p, fmt.Errorf("count run issues: %w", err)
	}
	return p, nil
}

// firstIssuePages reads a run's issues summed up by reason, and the first page of its
// source issues and of its destination rejections: both in one query, or for the kind
// f narrows to one reason, that reason's.
func (h *RunHandler) firstIssuePages(ctx context.Context, r *models.Run, f models.IssueFilter) (source, rejections runsview.IssuePage, err error) {
	sum, err := h.store.RunIssueSummary(ctx, r, runIssueReasons)
	if err != nil {
		return source, rejections, fmt.Errorf("run issue summary: %w", err)
	}
	stages := []string{engineStageSource, engineStageDestination}
	if f.Reason != nil {
		stages = slices.DeleteFunc(stages, func(s string) bool { return s == f.Stage })
	}
	pages, next, err := h.store.FirstRunIssues(ctx, r, stages, runIssuesPage)
	if err != nil {
		return source, rejections, fmt.Errorf("run issues: %w", err)
	}
	page := func(stage string) (runsview.IssuePage, error) {
		p := runsview.IssuePage{RunID: r.ID, Stage: stage, Issues: pages[stage], Next: next[stage], Total: sum.Totals[stage]}
		if f.Reason != nil && f.Stage == stage {
			var err error
			if p, err = h.issuePage(ctx, r, f, 0); err != nil {
				return p, err
			}
		}
		p.Groups, p.StageTotal, p.Running = sum.Groups[stage], sum.Totals[stage], !r.Finished()
		return p, nil
	}
	if source, err = page(engineStageSource); err != nil {
		return source, rejections, err
	}
	rejections, err = page(engineStageDestination)
	return source, rejections, err
}

// issueStage reads ?stage=; required says whether both stages ("") may be asked for.
func issueStage(c echo.Context, required bool) (string, error) {
	switch s := c.QueryParam("stage"); s {
	case engineStageSource, engineStageDestination:
		return s, nil
	case "":
		if !required {
			return "", nil
		}
	}
	return "", echo.NewHTTPError(http.StatusBadRequest, "The stage must be source or destination.")
}

// issueFilter reads which issues a page or the CSV shows: ?stage=, and ?code=&field=
// &message= for one reason of the run's summary (models.IssueReason), which needs its
// stage. required says whether the stage must be given.
func issueFilter(c echo.Context, required bool) (models.IssueFilter, error) {
	stage, err := issueStage(c, required)
	if err != nil {
		return models.IssueFilter{}, err
	}
	f := models.IssueFilter{Stage: stage, Reason: issueReason(c)}
	if f.Reason != nil && stage == "" {
		return f, echo.NewHTTPError(http.StatusBadRequest, "A reason (code) is of one stage: give stage=source or stage=destination.")
	}
	return f, nil
}

// issueReason is the reason ?code=&field=&message= name, nil without a code.
func issueReason(c echo.Context) *models.IssueReason {
	code := c.QueryParam("code")
	if code == "" {
		return nil
	}
	return &models.IssueReason{Code: code, Field: c.QueryParam("field"), Message: c.QueryParam("message")}
}

// Issues is the next page of a run's source issues or destination rejections
// (?stage=source|destination&cursor=): table rows for htmx's "Load more", or a page of
// its own when the link is followed without htmx.
func (h *RunHandler) Issues(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	// The run first: another workspace's answers not found, whatever the query says.
	r, a, err := h.store.RunWithActivation(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("run issues: %w", err)
	}
	f, err := issueFilter(c, true)
	if err != nil {
		return err
	}
	f.Cursor = c.QueryParam("cursor")
	shown := 0
	if v := c.QueryParam("shown"); v != "" {
		if shown, err = strconv.Atoi(v); err != nil || shown < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "shown must be a whole number.")
		}
	}
	page, err := h.issuePage(ctx, r, f, shown)
	if err != nil {
		return err
	}
	if wantsPartial(c) {
		return h.render(c, http.StatusOK, runsview.IssueRows(page), runsview.IssueRows(page))
	}
	if a.ID == "" {
		return fmt.Errorf("run issues: %w", models.ErrNotFound)
	}
	return h.render(c, http.StatusOK, runsview.IssuesPage(runsview.IssuesPageProps{Run: r, Activation: a, Page: page}), nil)
}

// IssuesCSV streams every issue of a run (?stage= narrows to one stage, and
// ?code=&field=&message= to one reason) as CSV, a page at a time: memory stays bounded
// whatever the count.
func (h *RunHandler) IssuesCSV(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("issues csv: %w", err)
	}
	f, err := issueFilter(c, false)
	if err != nil {
		return err
	}
	stage := f.Stage
	name := "run-" + r.ID + "-issues.csv"
	if stage != "" {
		name = "run-" + r.ID + "-" + stage + "-issues.csv"
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	res.Header().Set("Cache-Control", "no-store")
	res.WriteHeader(http.StatusOK)
	// Keys and messages come from warehouses and destinations: cells that a spreadsheet
	// would run as formulas are neutralised.
	w := csvsafe.NewWriter(res)
	if err := w.Write([]string{"primary_key", "stage", "code", "field", "message"}); err != nil {
		return err
	}
	f.Limit = runCSVPage
	for {
		list, next, err := h.store.RunIssues(ctx, r, f)
		if err != nil {
			// The answer has started: the error handler can only log it.
			return fmt.Errorf("issues csv: %w", err)
		}
		for _, is := range list {
			if err := w.Write([]string{is.PrimaryKey, is.Stage, is.Code, is.Field, is.Message}); err != nil {
				return err
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		res.Flush()
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// Progress is the live part of a running run's page, which htmx asks for every second.
// Once the run is over it answers without the polling trigger, and asks htmx to reload
// the page, which then shows the results.
func (h *RunHandler) Progress(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("run progress: %w", err)
	}
	p, err := h.progress(ctx, ws, r)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if r.Finished() && isHTMX(c) {
		c.Response().Header().Set("HX-Refresh", "true")
	}
	return h.render(c, http.StatusOK, runsview.RunProgress(p), runsview.RunProgress(p))
}

// progress is a run in flight with how many rows it should read: the segment's size at
// the activation's last complete run (the warehouse is not asked again every second).
func (h *RunHandler) progress(ctx context.Context, ws string, r *models.Run) (runsview.ProgressProps, error) {
	p := runsview.ProgressProps{Run: r}
	if r.Finished() {
		return p, nil
	}
	recent, err := h.store.ListRunSummaries(ctx, ws, r.ActivationID, 20)
	if err != nil {
		return p, fmt.Errorf("run progress: %w", err)
	}
	p.Estimate = progressEstimate(recent, r.ID)
	return p, nil
}

// progressEstimate is how many rows the run should read: what the newest complete run
// among recent (newest first) queried, 0 when none is.
func progressEstimate(recent []models.Run, runID string) int64 {
	for _, prev := range recent {
		if prev.ID != runID && (prev.Status == models.RunSucceeded || prev.Status == models.RunWarnings) {
			return prev.Queried
		}
	}
	return 0
}

// Cancel stops a run: a queued one at once, a running one at its next checkpoint.
func (h *RunHandler) Cancel(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.core.CancelRun(ctx, ws, c.Param("id"))
	var fe *models.FieldError
	switch {
	case errors.As(err, &fe):
		err = flash(c, "info", "This run is over already: there is nothing to cancel.")
	case err != nil:
		return fmt.Errorf("cancel run: %w", err)
	case r.Status == models.RunCancelled:
		err = flash(c, "success", "Run cancelled before it started.")
	default:
		err = flash(c, "info", "Cancel requested.")
	}
	if err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("runs.show", c.Param("id")))
}

// Records is the record lookup of an activation (?key=): what each run did with one
// primary key, newest first — the timeline under the form for htmx, or a page of its
// own when the form is sent without it.
func (h *RunHandler) Records(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	a, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("record lookup: %w", err)
	}
	p := runsview.LookupProps{ActivationID: a.ID, Key: strings.TrimSpace(c.QueryParam("key")), Searched: true, RetentionDays: h.cfg.RetentionDays}
	status := http.StatusOK
	if p.Key == "" {
		p.Error, status = "Type a primary key to look it up.", http.StatusUnprocessableEntity
	} else {
		since := time.Now().AddDate(0, 0, -h.cfg.RetentionDays)
		if p.History, err = h.store.KeyHistory(ctx, ws, a.ID, p.Key, since); err != nil {
			return fmt.Errorf("record lookup: %w", err)
		}
	}
	return h.render(c, status, runsview.LookupPage(runsview.LookupPageProps{Activation: a, Lookup: p}), runsview.KeyTimeline(p))
}

// samplesOf reads the kept exchanges for the debugger: JSON bodies indented, long
// ones cut (the API has them whole), at most runSamplesShown of them.
func samplesOf(list []models.RunSample) []runsview.Sample {
	out := make([]runsview.Sample, 0, min(len(list), runSamplesShown))
	for _, s := range list {
		if len(out) == runSamplesShown {
			break
		}
		var ex connectors.Exchange
		if err := json.Unmarshal([]byte(s.ExchangeJSON), &ex); err != nil {
			continue
		}
		out = append(out, runsview.Sample{Method: ex.Method, URL: ex.URL, Status: ex.StatusCode, RequestHeaders: ex.RequestHeaders,
			RequestBody: sampleBody(ex.RequestBody), ResponseBody: sampleBody(ex.ResponseBody)})
	}
	return out
}

func sampleBody(body string) string {
	var buf bytes.Buffer
	if len(body) <= 4*runSampleBody && json.Indent(&buf, []byte(body), "", "  ") == nil {
		body = buf.String()
	}
	if len(body) > runSampleBody {
		cut := strings.ToValidUTF8(body[:runSampleBody], "")
		body = cut + fmt.Sprintf("\n… %d KB more: GET /api/v1/runs/{id}/samples has the whole exchange.", (len(body)-len(cut))>>10)
	}
	return body
}
