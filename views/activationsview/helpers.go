// Package activationsview holds the activation and run pages.
package activationsview

import (
	"fmt"
	"strings"
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

// HealthLabel is an activation's health as users read it.
func HealthLabel(h string) string {
	switch h {
	case models.HealthHealthy:
		return "Healthy"
	case models.HealthWarning:
		return "Warning"
	case models.HealthFailed:
		return "Failed"
	}
	return "Never run"
}

// HealthBadgeClass colours a health.
func HealthBadgeClass(h string) string {
	switch h {
	case models.HealthHealthy:
		return "badge badge-dot badge-green"
	case models.HealthWarning:
		return "badge badge-dot badge-amber"
	case models.HealthFailed:
		return "badge badge-dot badge-red"
	}
	return "badge badge-dot badge-gray"
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

func num(n int64) string { return fmt.Sprintf("%d", n) }

var kinds = []string{"string", "email", "phone", "number", "boolean", "datetime"}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func filterQuery(status string) string {
	if status == "" {
		return ""
	}
	return "?status=" + status
}

// pauseTitle is why an activation is paused, as a sentence (also its icon's hover text).
func pauseTitle(a models.Activation) string {
	if a.PauseReason == "" {
		return "Paused by hand."
	}
	r := strings.TrimPrefix(a.PauseReason, "paused automatically: ")
	return strings.ToUpper(r[:1]) + r[1:]
}

func pauseHeading(a models.Activation) string {
	if a.PauseAutomatic {
		return "Paused automatically."
	}
	return "Paused."
}

func firstRuns(runs []models.Run, n int) []models.Run { return runs[:min(n, len(runs))] }

func thresholdText(t float64) string {
	if t <= 0 {
		return "Never pauses"
	}
	return fmt.Sprintf("%g%% of rows", t)
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

type step struct{ route, title, text string }

var firstSteps = []step{
	{"sources.index", "Connect a source", "Your warehouse: PostgreSQL, Redshift, Snowflake, BigQuery or Databricks."},
	{"models.index", "Describe your data with a model", "A table or SQL query with a primary key you can trust."},
	{"segments.index", "Build a segment", "Pick the customers to send with a visual builder that counts as you click."},
	{"platforms.index", "Connect a platform", "The ad platform, CRM or e-mail tool that receives the audience."},
}
