package core

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sluice/models"
)

// RunMeasures are what a successful run measured against the alert thresholds; a zero
// field was not measured (no rows read, too few earlier runs to know the usual time, no
// earlier run to compare the audience with).
type RunMeasures struct {
	// IssueShare is the share (in %) of the rows read that had source issues or that
	// the platform rejected.
	IssueShare float64
	// Took is how long the run took; Usual the median of the earlier successful runs.
	Took, Usual time.Duration
	// Audience is the rows read by this run, PrevAudience by the run before.
	Audience, PrevAudience int64
}

// ThresholdsChecked opens the activation's threshold_passed incident when a successful
// run passed one of the workspace's alert thresholds (saying which, by how much), and
// resolves it when a run is back under every one. Alerts follow the event's toggle and
// the activation's mute, as for the other events.
func (s *Service) ThresholdsChecked(ctx context.Context, run *models.Run, act *models.Activation, counts *models.RunCounts, m RunMeasures) {
	set, err := s.store.AlertSettings(ctx, run.WorkspaceID)
	if err != nil {
		s.logger().Error("alert thresholds", slog.Any("error", err))
		return
	}
	passed, sourceIssues := thresholdsPassed(set.Thresholds, m)
	if len(passed) == 0 {
		s.ResolveIncidents(ctx, run.WorkspaceID, models.IncidentActivation, act.ID, models.EventThresholdPassed, act)
		return
	}
	in := Incident{Activation: act, Run: run, Counts: counts, Event: models.IncidentEvent{
		WorkspaceID: run.WorkspaceID, ObjectType: models.IncidentActivation, ObjectID: act.ID, ObjectName: act.Name,
		Event: models.EventThresholdPassed, Message: strings.Join(passed, " "), RunID: run.ID}}
	if sourceIssues {
		if place, ok := models.PauseFixPlace(models.PauseCauseThreshold); ok {
			in.Fix, in.FixID = &place, s.fixObject(ctx, place.On, act, run.ID)
		}
	}
	s.OpenIncident(ctx, in)
}

// thresholdsPassed says in words which of the thresholds the measures passed, and
// whether the source-issue one is among them.
func thresholdsPassed(t models.AlertThresholds, m RunMeasures) (passed []string, sourceIssues bool) {
	if n := t.SourceIssuesPercent; n > 0 && m.IssueShare > float64(n) {
		passed = append(passed, fmt.Sprintf("%.1f%% of the rows read had source issues or were rejected, above the alert threshold of %d%%.", m.IssueShare, n))
		sourceIssues = true
	}
	if n := t.SlowRunFactor; n > 0 && m.Usual > 0 && m.Took > time.Duration(n)*m.Usual {
		passed = append(passed, fmt.Sprintf("The run took %s, more than %d times its usual %s.", m.Took.Round(100*time.Millisecond), n, m.Usual.Round(100*time.Millisecond)))
	}
	if n := t.AudienceDropPercent; n > 0 && m.PrevAudience > 0 {
		if drop := 100 - 100*float64(m.Audience)/float64(m.PrevAudience); drop > float64(n) {
			passed = append(passed, fmt.Sprintf("The audience dropped by %.0f%% since the last run (from %d to %d rows), more than the alert threshold of %d%%.", drop, m.PrevAudience, m.Audience, n))
		}
	}
	return passed, sourceIssues
}
