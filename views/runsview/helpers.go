// Package runsview holds the run pages and the record lookup: what one run did, its
// issues, log and samples, and what each run did with one record.
package runsview

import (
	"fmt"
	"time"

	"sluice/connectors"
	"sluice/models"
)

// RunStatusLabel is a run status as users read it.
func RunStatusLabel(status string) string {
	switch status {
	case models.RunQueued:
		return "Queued"
	case models.RunRunning:
		return "Running"
	case models.RunSucceeded:
		return "Succeeded"
	case models.RunWarnings:
		return "Succeeded with warnings"
	case models.RunFailed:
		return "Failed"
	case models.RunInterrupted:
		return "Interrupted"
	case models.RunSkipped:
		return "Skipped"
	case models.RunCancelled:
		return "Cancelled"
	}
	return status
}

// RunBadgeClass colours a run status.
func RunBadgeClass(status string) string {
	switch status {
	case models.RunSucceeded:
		return "badge badge-dot badge-green"
	case models.RunWarnings:
		return "badge badge-dot badge-amber"
	case models.RunFailed, models.RunInterrupted:
		return "badge badge-dot badge-red"
	case models.RunRunning, models.RunQueued:
		return "badge badge-dot badge-blue"
	}
	return "badge badge-dot badge-gray"
}

var issueLabels = map[string]string{
	"duplicate_primary_key":  "Duplicate key",
	"invalid_email":          "Invalid e-mail",
	"invalid_phone":          "Invalid phone",
	"missing_required_field": "Missing field",
	"wrong_type":             "Wrong type",
	"missing_primary_key":    "No primary key",
	"rejected":               "Rejected",
}

// IssueLabel names a record issue's code as users read it: "Invalid phone".
func IssueLabel(code string) string {
	if l, ok := issueLabels[code]; ok {
		return l
	}
	return code
}

// CategoryLabel names an error category as the seed does.
func CategoryLabel(c string) string { return connectors.Category(c).Label() }

// Duration is how long a run took, "—" while it has not finished.
func Duration(r models.Run) string {
	if r.StartedAt == nil || r.FinishedAt == nil {
		return "—"
	}
	d := r.FinishedAt.Sub(*r.StartedAt)
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}

// Fix is the button that leads to where an error is fixed.
type Fix struct {
	Label string
	URL   string
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// waitWords says what the run waits for, in plain words ("" when it waits for nothing).
func (p ProgressProps) waitWords() string {
	w := p.Run.Wait()
	if w == nil {
		return ""
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	return w.Sentence(now)
}
