package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"sluice/engine"
	"sluice/models"
)

// RecheckThresholds lifts the threshold pauses of a workspace whose cause is gone: for
// each activation paused for too many source issues, it reads the segment's rows as a
// run would — nothing sent, no state touched — and resumes the activation when the share
// of rows with source issues is back under its threshold. An activation that cannot be
// prepared (its source, model or platform broken) stays paused.
func (s *Runner) RecheckThresholds(ctx context.Context, workspaceID string) error {
	acts, err := s.store.ListActivations(ctx, workspaceID, models.ActivationFilter{Status: models.ActivationPaused})
	if err != nil {
		return err
	}
	_, err = s.recheck(ctx, workspaceID, acts)
	return err
}

// RecheckThresholdsOnModels is RecheckThresholds for the activations reading these
// models, after "Validate now" on a model or its source: it answers the activations it
// resumed and logs those it could not check, which stay paused.
func (s *Runner) RecheckThresholdsOnModels(ctx context.Context, workspaceID string, modelIDs []string) []models.Activation {
	onModels, err := s.store.ActivationsOnModels(ctx, workspaceID, modelIDs)
	if err != nil {
		s.log.Error("recheck thresholds: list activations", slog.Any("error", err))
		return nil
	}
	acts := make([]models.Activation, len(onModels))
	for i, am := range onModels {
		acts[i] = am.Activation
	}
	resumed, err := s.recheck(ctx, workspaceID, acts)
	if err != nil {
		s.log.Error("recheck thresholds", slog.Any("error", err))
	}
	return resumed
}

// recheck resumes those of acts paused for their threshold that are back under it,
// carrying on past one's failure and answering the first.
func (s *Runner) recheck(ctx context.Context, workspaceID string, acts []models.Activation) ([]models.Activation, error) {
	var first error
	var resumed []models.Activation
	for _, a := range acts {
		if a.Status != models.ActivationPaused || !a.PauseAutomatic || a.PauseCause != models.PauseCauseThreshold {
			continue
		}
		under, err := s.underThreshold(ctx, &a)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("jobs: recheck threshold of %s: %w", a.ID, err)
			}
			continue
		}
		if !under {
			continue
		}
		if _, err := s.core.ResumeAutomatically(ctx, workspaceID, a.ID, models.PauseCauseThreshold); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		resumed = append(resumed, a)
	}
	return resumed, first
}

// underThreshold counts the activation's source issues over its whole segment.
func (s *Runner) underThreshold(ctx context.Context, a *models.Activation) (bool, error) {
	job, closeAll, err := s.buildJob(ctx, jobInput{
		workspaceID: a.WorkspaceID, activationID: a.ID,
		segmentID: a.SegmentID, platformID: a.PlatformID, action: a.Action,
		mappings: a.Mappings(), settings: a.Settings(),
	})
	defer closeAll()
	var pf *preflightError
	if errors.As(err, &pf) {
		s.log.Info("threshold pause kept: the activation cannot run", slog.String("activation_id", a.ID), slog.String("reason", pf.message))
		return false, nil
	}
	if err != nil {
		return false, err
	}
	queried, issues, err := engine.CountSourceIssues(ctx, *job)
	if err != nil {
		return false, err
	}
	threshold := a.Settings().SourceIssueThreshold
	if threshold <= 0 || queried == 0 {
		return true, nil
	}
	return 100*float64(issues)/float64(queried) <= threshold, nil
}
