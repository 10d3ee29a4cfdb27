package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"sluice/core"
	"sluice/models"
)

// Sync warning rules.
const (
	// slowRuns is how many earlier successful runs a run's duration is compared with.
	slowRuns = 10
	// slowFactor is how many times the median duration makes a run "much slower".
	slowFactor = 3
	// slowMinRuns is how many earlier runs the median needs to mean something.
	slowMinRuns = 3
	// slowFloor keeps runs of a few hundred milliseconds from being called slow.
	slowFloor = time.Second
	// duplicateLimit is the share of duplicate keys (in %) over which the model is refused
	// rather than warned about.
	duplicateLimit = 5.0
)

// recordWarnings works out and stores the sync warnings of a run that succeeded: problems
// that did not fail it but that someone should look at. A warning never changes the
// run's status.
func (s *Runner) recordWarnings(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	if o.Status != models.RunSucceeded && o.Status != models.RunWarnings {
		return
	}
	var m core.RunMeasures
	ws, err := s.syncWarnings(ctx, run, act, o, &m)
	if err == nil {
		s.core.ThresholdsChecked(ctx, run, act, &o.Counts, m) // opens or resolves the threshold incident
		err = s.store.AddRunWarnings(ctx, ws)
	}
	if err != nil {
		s.log.Error("record sync warnings", slog.String("run_id", run.ID), slog.Any("error", err))
	}
}

// syncWarnings are the seed's sync warnings of a run: source issues under the threshold,
// a column whose type changed without failing the run, duplicate keys under 5%, a run much
// slower than usual, an audience that dropped by more than half since the last run. It
// fills meas with what the alert thresholds are checked against.
func (s *Runner) syncWarnings(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome, meas *core.RunMeasures) ([]models.RunWarning, error) {
	c := o.Counts
	meas.Audience = c.Queried
	if c.Queried > 0 {
		meas.IssueShare = 100 * float64(c.SourceIssues+c.Rejected) / float64(c.Queried)
	}
	var out []models.RunWarning
	add := func(kind, objectType, objectID, msg string) {
		out = append(out, models.RunWarning{WorkspaceID: run.WorkspaceID, RunID: run.ID, Kind: kind, Message: msg,
			ObjectType: objectType, ObjectID: objectID})
	}
	withoutDups := c.SourceIssues - o.DuplicateKeys
	if threshold := act.Settings().SourceIssueThreshold; withoutDups > 0 && c.Queried > 0 {
		share := 100 * float64(c.SourceIssues) / float64(c.Queried)
		if threshold <= 0 || share <= threshold {
			msg := fmt.Sprintf("%s had source issues and %s not sent (%.1f%% of the rows read).",
				rows(withoutDups), wasWere(withoutDups), 100*float64(withoutDups)/float64(c.Queried))
			if threshold > 0 {
				msg += fmt.Sprintf(" Under the activation's threshold of %.1f%%, so the run went on.", threshold)
			}
			add(models.WarnSourceIssues, models.WarnObjectRun, run.ID, msg+" See the source issues of this run.")
		}
	}
	m, err := s.modelOf(ctx, run.WorkspaceID, act.SegmentID)
	if err != nil {
		return nil, err
	}
	if o.DuplicateKeys > 0 && c.Queried > 0 {
		if share := 100 * float64(o.DuplicateKeys) / float64(c.Queried); share <= duplicateLimit {
			add(models.WarnDuplicateKeys, models.WarnObjectModel, m.ID, fmt.Sprintf(
				"%s of model %s shared their primary key %s with another row (%.1f%%, under 5%%); they were not sent, since which copy is right cannot be known. Make the key unique in the model.",
				rows(o.DuplicateKeys), m.Name, m.PrimaryKey, share))
		}
	}
	retyped, err := s.store.OpenIssues(ctx, run.WorkspaceID, models.IssueFilterOf(m.ID, models.IssueWrongType))
	if err != nil {
		return nil, err
	}
	for _, is := range retyped {
		add(models.WarnColumnType, models.WarnObjectModel, m.ID, fmt.Sprintf(
			"Column %s of model %s changed type in the warehouse; this run still went through. Check the column and the fields it fills.",
			is.Column, m.Name))
	}
	past, err := s.store.SucceededRunsBefore(ctx, run.WorkspaceID, run.ActivationID, run.ID, slowRuns)
	if err != nil {
		return nil, err
	}
	if len(past) > 0 {
		meas.PrevAudience = past[0].Queried
	}
	if len(past) > 0 && past[0].Queried > 0 && c.Queried*2 < past[0].Queried {
		seg := act.SegmentID
		add(models.WarnAudienceDrop, models.WarnObjectSegment, seg, fmt.Sprintf(
			"The audience dropped from %s to %s since the last run (%.0f%% fewer). If that is not expected, check the segment's conditions and the model's data.",
			rows(past[0].Queried), rows(c.Queried), 100-100*float64(c.Queried)/float64(past[0].Queried)))
	}
	if len(past) >= slowMinRuns {
		stored, err := s.store.RunByID(ctx, run.WorkspaceID, run.ID)
		if err != nil {
			return nil, err
		}
		if stored.StartedAt != nil && stored.FinishedAt != nil {
			took, usual := stored.FinishedAt.Sub(*stored.StartedAt), medianDuration(past)
			if took >= slowFloor {
				meas.Took, meas.Usual = took, usual
			}
			if took >= slowFloor && took > slowFactor*usual {
				add(models.WarnSlowRun, models.WarnObjectRun, run.ID, fmt.Sprintf(
					"This run took %s, more than %d times the usual %s (the median of the last %d successful runs). See the stages of this run for where the time went.",
					roundDuration(took), slowFactor, roundDuration(usual), len(past)))
			}
		}
	}
	return out, nil
}

// medianDuration is the median of the runs' durations.
func medianDuration(runs []models.PastRun) time.Duration {
	ds := make([]time.Duration, len(runs))
	for i, r := range runs {
		ds[i] = r.Duration()
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

func rows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func wasWere(n int64) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
