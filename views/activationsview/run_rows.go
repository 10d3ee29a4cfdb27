package activationsview

import (
	"context"
	"io"
	"strconv"

	"github.com/a-h/templ"

	"sluice/models"
	"sluice/views/components"
	"sluice/views/runsview"
)

// runRows writes the run history's rows, one <tr> a run, into one reused buffer. A row
// written in templ cost about 25 allocations (each { } formats its value again through
// fmt, each class attribute takes a buffer), and the Run History tab renders 50 rows on
// every view.
func runRows(runs []models.Run) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		b := make([]byte, 0, 1024)
		for i := range runs {
			r := &runs[i]
			b = append(b[:0], `<tr data-testid="run-row"><td><a href="`...)
			b = appendEscaped(b, components.URL(ctx, "runs.show", r.ID))
			b = append(b, `"><span class="`...)
			b = appendEscaped(b, runsview.RunBadgeClass(r.Status))
			b = append(b, `">`...)
			b = appendEscaped(b, runsview.RunStatusLabel(r.Status))
			b = append(b, `</span></a></td><td class="muted">`...)
			b = appendEscaped(b, r.Trigger)
			b = append(b, `</td><td class="muted nowrap">`...)
			b = components.AppendTimePtr(b, r.StartedAt)
			b = append(b, `</td><td class="muted">`...)
			b = appendEscaped(b, runsview.Duration(*r))
			for _, n := range [...]int64{r.Added, r.Changed, r.Removed, r.Sent, r.Rejected, r.SourceIssues} {
				b = append(b, `</td><td class="num">`...)
				b = strconv.AppendInt(b, n, 10)
			}
			b = append(b, `</td></tr>`...)
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendEscaped appends s escaped for HTML text and attribute values, as templ does.
func appendEscaped(b []byte, s string) []byte {
	return append(b, templ.EscapeString(s)...)
}

// chartBars writes the chart's bars, a titled group a run, into one reused buffer: in
// templ each of a bar's eight coordinates went through fmt and an attribute expression,
// about 40 allocations a run, and the overview draws 30 runs on every view.
func chartBars(bars []ChartBar) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		b := make([]byte, 0, 512)
		for _, bar := range bars {
			b = append(b[:0], `<g><title>`...)
			b = appendEscaped(b, bar.Title)
			b = append(b, `</title><rect x="`...)
			b = appendF1(b, bar.X)
			b = append(b, `" y="`...)
			b = appendF1(b, bar.SentY)
			b = append(b, `" width="`...)
			b = appendF1(b, bar.Width)
			b = append(b, `" height="`...)
			b = appendF1(b, bar.SentH)
			b = append(b, `" class="sent`...)
			if bar.Failed {
				b = append(b, ` failed`...)
			}
			b = append(b, `" rx="2"></rect> <rect x="`...)
			b = appendF1(b, bar.X+bar.Width)
			b = append(b, `" y="`...)
			b = appendF1(b, bar.IssuesY)
			b = append(b, `" width="`...)
			b = appendF1(b, bar.Width)
			b = append(b, `" height="`...)
			b = appendF1(b, bar.IssuesH)
			b = append(b, `" class="issues" rx="2"></rect></g>`...)
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}
