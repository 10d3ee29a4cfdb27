// Package activationsview holds the activation pages: the list, one activation, and the
// wizard that creates one.
package activationsview

import (
	"fmt"
	"net/url"
	"strconv"

	"sluice/models"
)

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

func num(n int64) string { return strconv.FormatInt(n, 10) }

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

// pageQuery is the query of a page of the list: the filter and search kept, after the
// name the page starts after ("" for the first page).
func pageQuery(status, search, after string) string {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if search != "" {
		q.Set("q", search)
	}
	if after != "" {
		q.Set("after", after)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
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

type step struct {
	route, title, text string
	done               func(models.FirstSteps) bool
}

var firstSteps = []step{
	{"sources.index", "Connect a source", "Your warehouse: PostgreSQL, Redshift, Snowflake, BigQuery or Databricks.", func(f models.FirstSteps) bool { return f.SourceConnected }},
	{"models.index", "Describe your data with a model", "A table or SQL query with a primary key you can trust.", func(f models.FirstSteps) bool { return f.Model }},
	{"segments.index", "Build a segment", "Pick the customers to send with a visual builder that counts as you click.", func(f models.FirstSteps) bool { return f.Segment }},
	{"platforms.index", "Connect a platform", "The ad platform, CRM or e-mail tool that receives the audience.", func(f models.FirstSteps) bool { return f.Platform }},
}
