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
	c.Max = axisTop(c.Max)
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
	for i, v := range []int64{0, c.Max / 2, c.Max} {
		c.Ticks = append(c.Ticks, ChartTick{Y: chartTop + plotH*(1-float64(i)/2), Label: strconv.FormatInt(v, 10)})
	}
	return c
}

// axisTop is the chart's top value: at least the largest bar, even so the middle grid
// line has a whole label, and rounded up to two significant digits of its half
// (1 → 2, 3 → 4, 1234 → 1240) so the labels read as round numbers.
func axisTop(largest int64) int64 {
	half := max((largest+1)/2, 1)
	unit := int64(1)
	for half/unit >= 100 {
		unit *= 10
	}
	return 2 * ((half + unit - 1) / unit * unit)
}

// RunsCaption says how many runs the chart draws.
func (c Chart) RunsCaption() string {
	if len(c.Bars) == 1 {
		return "the last run"
	}
	return "last " + strconv.Itoa(len(c.Bars)) + " runs"
}

func f1(v float64) string {
	var buf [24]byte
	return string(appendF1(buf[:0], v))
}

// appendF1 appends v with one decimal, as "%.1f" formats it.
func appendF1(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', 1, 64) }
