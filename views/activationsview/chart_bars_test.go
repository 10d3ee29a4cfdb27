package activationsview

import (
	"context"
	"strings"
	"testing"
	"time"

	"sluice/models"
)

// The chart's bars, written by hand, draw what the templ chart drew: a titled group per
// run, its sent bar (red when the run failed) and its issues bar beside it, the
// coordinates with one decimal.
func TestRunChartBars(t *testing.T) {
	at := time.Date(2026, 11, 28, 18, 40, 0, 0, time.UTC)
	runs := []models.Run{ // newest first
		{Status: models.RunFailed, CreatedAt: at.Add(15 * time.Minute), RunCounts: models.RunCounts{Sent: 10, SourceIssues: 30, Rejected: 10}},
		{Status: models.RunSucceeded, CreatedAt: at, RunCounts: models.RunCounts{Sent: 80, SourceIssues: 2}},
	}
	var b strings.Builder
	if err := RunChart(NewChart(runs)).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := "<figure class=\"run-chart\" data-testid=\"run-chart\"><svg viewBox=\"0 0 720.0 180.0\" role=\"img\" aria-label=\"Records sent and issues per run\">" +
		"<line x1=\"44\" x2=\"720.0\" y1=\"160.0\" y2=\"160.0\" class=\"grid\"></line> <text x=\"38\" y=\"164.0\" text-anchor=\"end\" class=\"axis\">0</text> " +
		"<line x1=\"44\" x2=\"720.0\" y1=\"84.0\" y2=\"84.0\" class=\"grid\"></line> <text x=\"38\" y=\"88.0\" text-anchor=\"end\" class=\"axis\">40</text> " +
		"<line x1=\"44\" x2=\"720.0\" y1=\"8.0\" y2=\"8.0\" class=\"grid\"></line> <text x=\"38\" y=\"12.0\" text-anchor=\"end\" class=\"axis\">80</text> " +
		"<g><title>Succeeded · 28 Nov 18:40: 80 sent, 2 source issues, 0 rejected</title>" +
		"<rect x=\"46.7\" y=\"8.0\" width=\"8.1\" height=\"152.0\" class=\"sent\" rx=\"2\"></rect> <rect x=\"54.8\" y=\"156.2\" width=\"8.1\" height=\"3.8\" class=\"issues\" rx=\"2\"></rect></g>" +
		"<g><title>Failed · 28 Nov 18:55: 10 sent, 30 source issues, 10 rejected</title>" +
		"<rect x=\"69.2\" y=\"141.0\" width=\"8.1\" height=\"19.0\" class=\"sent failed\" rx=\"2\"></rect> <rect x=\"77.3\" y=\"84.0\" width=\"8.1\" height=\"76.0\" class=\"issues\" rx=\"2\"></rect></g>" +
		"</svg><figcaption class=\"muted small\"><span class=\"legend sent\"></span> Records sent <span class=\"legend issues\"></span> Source issues and rejections · last 2 runs</figcaption></figure>"
	// Spaces between the SVG's elements draw nothing: they are not compared.
	if got := strings.ReplaceAll(b.String(), "> <", "><"); got != strings.ReplaceAll(want, "> <", "><") {
		t.Fatalf("chart:\n%s\nwant:\n%s", got, want)
	}
}
