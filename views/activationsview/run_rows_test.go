package activationsview

import (
	"context"
	"strings"
	"testing"
	"time"

	"sluice/models"
	"sluice/views/components"
)

// The run history's rows, written by hand, say what the templ table said: a link to
// the run with its status badge, the trigger (escaped), start, duration and counts.
func TestRunHistoryRows(t *testing.T) {
	started := time.Date(2026, 11, 28, 18, 40, 5, 0, time.UTC)
	finished := started.Add(90 * time.Second)
	runs := []models.Run{
		{ID: "r-1", Status: models.RunFailed, Trigger: `<api & "co">`, StartedAt: &started, FinishedAt: &finished,
			RunCounts: models.RunCounts{Added: 1, Changed: 2, Removed: 3, Sent: 4000, Rejected: 5, SourceIssues: 6}},
		{ID: "r-2", Status: models.RunQueued, Trigger: models.TriggerManual},
	}
	page := &components.Page{Reverse: func(name string, params ...any) string { return "/runs/" + params[0].(string) }}
	var b strings.Builder
	if err := runHistory(runs).Render(components.WithPage(context.Background(), page), &b); err != nil {
		t.Fatal(err)
	}
	want := `<tbody>` +
		`<tr data-testid="run-row"><td><a href="/runs/r-1"><span class="badge badge-dot badge-red">Failed</span></a></td>` +
		`<td class="muted">&lt;api &amp; &#34;co&#34;&gt;</td><td class="muted nowrap">28 Nov 2026, 18:40 UTC</td><td class="muted">1m30s</td>` +
		`<td class="num">1</td><td class="num">2</td><td class="num">3</td><td class="num">4000</td><td class="num">5</td><td class="num">6</td></tr>` +
		`<tr data-testid="run-row"><td><a href="/runs/r-2"><span class="badge badge-dot badge-blue">Queued</span></a></td>` +
		`<td class="muted">manual</td><td class="muted nowrap">Never</td><td class="muted">—</td>` +
		`<td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">0</td></tr>` +
		`</tbody>`
	if got := b.String(); !strings.Contains(got, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
	}
}
