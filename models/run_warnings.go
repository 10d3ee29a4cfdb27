package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Sync warning kinds: problems a run met without failing (the seed's "Sync warnings").
const (
	WarnSourceIssues  = "source_issues"
	WarnColumnType    = "column_type"
	WarnDuplicateKeys = "duplicate_keys"
	WarnSlowRun       = "slow_run"
	WarnAudienceDrop  = "audience_drop"
)

// Objects a sync warning points at, where to look.
const (
	WarnObjectRun     = "run"
	WarnObjectModel   = "model"
	WarnObjectSegment = "segment"
)

// RunWarning is one sync warning of a run, in plain words, with the object where to look.
type RunWarning struct {
	ID          string
	WorkspaceID string
	RunID       string
	Kind        string
	Message     string
	ObjectType  string
	ObjectID    string
}

// AddRunWarnings stores sync warnings, in their order, and counts them on their runs
// (Run.WarningCount) in the same transaction.
func (s *Store) AddRunWarnings(ctx context.Context, ws []RunWarning) error {
	if len(ws) == 0 {
		return nil
	}
	type runKey struct{ workspaceID, runID string }
	counts := map[runKey]int{}
	for i := range ws {
		ws[i].ID = newID()
		counts[runKey{ws[i].WorkspaceID, ws[i].RunID}]++
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&ws).Error; err != nil {
			return err
		}
		for k, n := range counts {
			if err := tx.Model(&Run{}).Where("workspace_id = ? AND id = ?", k.workspaceID, k.runID).
				Update("warning_count", gorm.Expr("warning_count + ?", n)).Error; err != nil {
				return err
			}
		}
		return nil
	}))
}

// RunWarnings lists the sync warnings of r, a run already read from its workspace, in
// the order they were found; a run that counts none is not asked about.
func (s *Store) RunWarnings(ctx context.Context, r *Run) ([]RunWarning, error) {
	if r.WarningCount == 0 {
		return nil, nil
	}
	var out []RunWarning
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND run_id = ?", r.WorkspaceID, r.ID).Order("id").Find(&out).Error
	return out, translate(err)
}

// PastRun is a successful earlier run of an activation: how long it took and how many
// rows it read.
type PastRun struct {
	ID         string
	StartedAt  time.Time
	FinishedAt time.Time
	Queried    int64
}

// Duration is how long the run took.
func (r PastRun) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// SucceededRunsBefore lists up to n runs of an activation that succeeded (with or without
// warnings), other than runID, newest first, in one bounded query: a run's duration and
// audience are compared with them.
func (s *Store) SucceededRunsBefore(ctx context.Context, workspaceID, activationID, runID string, n int) ([]PastRun, error) {
	var out []PastRun
	err := s.db.WithContext(ctx).Model(&Run{}).Select("id, started_at, finished_at, queried").
		Where("workspace_id = ? AND activation_id = ? AND id <> ? AND status IN ? AND started_at IS NOT NULL AND finished_at IS NOT NULL",
			workspaceID, activationID, runID, []string{RunSucceeded, RunWarnings}).
		Order("finished_at DESC").Limit(n).Scan(&out).Error
	return out, translate(err)
}
