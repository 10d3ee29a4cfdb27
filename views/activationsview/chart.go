package activationsview

import (
	"fmt"
	"strconv"

	"sluice/models"
	"sluice/views/runsview"
)

// Chart is the run-history chart: records sent and issues per run, oldest first, drawn
// as server-rendered SVG (no chart library).
type Chart struct {
	Width, Height float64
	Bars          []ChartBar
	Max           int64
	Ticks         []ChartTick
}

// ChartBar is one run: a sent bar and an issues bar side by side.
type ChartBar struct {
	X, Width         float64
	SentY, SentH     float64
	IssuesY, IssuesH float64
	Title            string
	Failed           bool
}

// ChartTick is a horizontal grid line with its label.
type ChartTick struct {
	Y     float64
	Label string
}

const (
	chartW, chartH = 720.0, 180.0
	chartLeft      = 44.0
	chartBottom    = 20.0
	chartTop       = 8.0
	chartMaxRuns   = 30
)

// NewChart lays out up to the last 30 runs (newest last).
func NewChart(newestFirst []models.Run) Chart {
	runs := newestFirst
	if len(runs) > chartMaxRuns {
		runs = runs[:chartMaxRuns]
	}
	c := Chart{Width: chartW, Height: chartH}
	for _, r := range runs {
		c.Max = max(c.Max, r.Sent, r.SourceIssues+r.Rejected)
	}
	if c.Max == 0 {
		c.Max = 1
	}
	plotH := chartH - chartBottom - chartTop
	slot := (chartW - chartLeft) / float64(chartMaxRuns)
	for i := range runs {
		r := runs[len(runs)-1-i] // oldest first
		x := chartLeft + float64(i)*slot
		sentH := plotH * float64(r.Sent) / float64(c.Max)
		issH := plotH * float64(r.SourceIssues+r.Rejected) / float64(c.Max)
		c.Bars = append(c.Bars, ChartBar{
			X: x + slot*0.12, Width: slot * 0.36,
			SentY: chartTop + plotH - sentH, SentH: sentH,
			IssuesY: chartTop + plotH - issH, IssuesH: issH,
			Failed: r.Status == models.RunFailed || r.Status == models.RunInterrupted,
			Title: fmt.Sprintf("%s · %s: %d sent, %d source issues, %d rejected", runsview.RunStatusLabel(r.Status), r.CreatedAt.UTC().Format("2 Jan 15:04"),
				r.Sent, r.SourceIssues, r.Rejected),
		})
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.Ticks = append(c.Ticks, ChartTick{Y: chartTop + plotH*(1-f), Label: fmt.Sprintf("%d", int64(f*float64(c.Max)))})
	}
	return c
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func fmtInt(n int) string { return strconv.Itoa(n) }
