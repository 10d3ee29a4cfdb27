package models

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Objects validation issues belong to.
const (
	IssueObjectSource = "source"
	IssueObjectModel  = "model"
)

// IssueDuplicateKeys is a model whose primary key is shared or null on some rows (up to
// 5%; more refuses the model).
const IssueDuplicateKeys = "duplicate_keys"

// ValidationIssue is one problem validation found on a source (the failing stage, e.g.
// connection, grants) or a model (a column missing, altered or retyped, duplicate keys),
// from when it was first seen to when it was resolved.
type ValidationIssue struct {
	ID          string
	WorkspaceID string
	ObjectType  string
	ObjectID    string
	// Column is "" for the whole object (a source's stage, a model's table or query).
	Column      string `gorm:"column:column_name"`
	Kind        string
	Message     string
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	ResolvedAt  *time.Time
}

// IssueInput is one issue a validation found.
type IssueInput struct {
	Column  string
	Kind    string
	Message string
}

func issueKey(column, kind string) string { return column + "\x00" + kind }

// RecordIssues keeps the issues of one validation of an object: an issue seen again
// moves its last_seen_at (and takes the new message), an open issue of a checked kind not
// seen any more is resolved, a new one opens. checked lists the kinds this validation
// looked for (nil: every kind), so a check that did not run resolves nothing. It answers
// the object's open issues.
func (s *Store) RecordIssues(ctx context.Context, workspaceID, objectType, objectID string, found []IssueInput, checked []string) ([]ValidationIssue, error) {
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var open []ValidationIssue
		if err := tx.Where("workspace_id = ? AND object_type = ? AND object_id = ? AND resolved_at IS NULL", workspaceID, objectType, objectID).
			Find(&open).Error; err != nil {
			return translate(err)
		}
		seen := map[string]bool{}
		byKey := map[string]*ValidationIssue{}
		for i := range open {
			byKey[issueKey(open[i].Column, open[i].Kind)] = &open[i]
		}
		for _, in := range found {
			k := issueKey(in.Column, in.Kind)
			if seen[k] {
				continue
			}
			seen[k] = true
			if is, ok := byKey[k]; ok {
				if err := tx.Model(&ValidationIssue{}).Where("id = ?", is.ID).
					Updates(map[string]any{"last_seen_at": now, "message": in.Message}).Error; err != nil {
					return translate(err)
				}
				continue
			}
			is := ValidationIssue{ID: newID(), WorkspaceID: workspaceID, ObjectType: objectType, ObjectID: objectID,
				Column: in.Column, Kind: in.Kind, Message: in.Message, FirstSeenAt: now, LastSeenAt: now}
			// Another validation of the same object may have opened it meanwhile.
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&is).Error; err != nil {
				return translate(err)
			}
		}
		for k, is := range byKey {
			if seen[k] || (checked != nil && !slices.Contains(checked, is.Kind)) {
				continue
			}
			if err := tx.Model(&ValidationIssue{}).Where("id = ?", is.ID).Update("resolved_at", now).Error; err != nil {
				return translate(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.OpenIssues(ctx, workspaceID, IssueFilterOf(objectID, ""))
}

// IssuesFilter narrows the open issues of a workspace.
type IssuesFilter struct {
	ObjectID string
	Kind     string
	// After is the cursor: the id of the last issue of the previous page.
	After string
	Limit int
}

// IssueFilterOf is the filter of an object's issues, optionally of one kind.
func IssueFilterOf(objectID, kind string) IssuesFilter {
	return IssuesFilter{ObjectID: objectID, Kind: kind}
}

// OpenIssues lists a workspace's unresolved validation issues, oldest first (ids are
// time-ordered, so the id is also the cursor).
func (s *Store) OpenIssues(ctx context.Context, workspaceID string, f IssuesFilter) ([]ValidationIssue, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ? AND resolved_at IS NULL", workspaceID)
	if f.ObjectID != "" {
		q = q.Where("object_id = ?", f.ObjectID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.After != "" {
		q = q.Where("id > ?", f.After)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	out := []ValidationIssue{}
	err := q.Order("id").Find(&out).Error
	return out, translate(err)
}

// ListWorkspaces lists every workspace (the daily validation walks them).
func (s *Store) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	var out []Workspace
	err := s.db.WithContext(ctx).Order("id").Find(&out).Error
	return out, translate(err)
}

type validationDay struct {
	WorkspaceID string
	Day         string
	ClaimedAt   time.Time
}

func (validationDay) TableName() string { return "validation_days" }

// ClaimValidationDay takes a workspace's daily validation for the UTC day of at: true for
// the one caller, of any instance, that claimed it first; false for the others.
func (s *Store) ClaimValidationDay(ctx context.Context, workspaceID string, at time.Time) (bool, error) {
	at = at.UTC()
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&validationDay{WorkspaceID: workspaceID, Day: at.Format(time.DateOnly), ClaimedAt: at})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ValidationDays lists the days a workspace's daily validation was claimed, with when.
func (s *Store) ValidationDays(ctx context.Context, workspaceID string) (map[string]time.Time, error) {
	var rows []validationDay
	if err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := map[string]time.Time{}
	for _, r := range rows {
		out[r.Day] = r.ClaimedAt
	}
	return out, nil
}

// ActivationOnModel is an activation with the segment it sends (the lineage reads
// segment conditions, mappings and the model's key through it).
type ActivationOnModel struct {
	Activation Activation
	Segment    Segment
}

// ActivationsOnModels lists the activations whose segment reads one of the models, with
// their segment.
func (s *Store) ActivationsOnModels(ctx context.Context, workspaceID string, modelIDs []string) ([]ActivationOnModel, error) {
	if len(modelIDs) == 0 {
		return nil, nil
	}
	var segs []Segment
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND model_id IN ?", workspaceID, modelIDs).Find(&segs).Error; err != nil {
		return nil, translate(err)
	}
	if len(segs) == 0 {
		return nil, nil
	}
	byID := map[string]Segment{}
	ids := make([]string, 0, len(segs))
	for _, g := range segs {
		byID[g.ID] = g
		ids = append(ids, g.ID)
	}
	var acts []Activation
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND segment_id IN ?", workspaceID, ids).Order("name").Find(&acts).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]ActivationOnModel, len(acts))
	for i, a := range acts {
		out[i] = ActivationOnModel{Activation: a, Segment: byID[a.SegmentID]}
	}
	return out, nil
}

// Activation event kinds: a pause or a resume, shown in Run History.
const (
	EventPaused  = "paused"
	EventResumed = "resumed"
)

// ActivationEvent is a pause or resume of an activation, by a person or by Sluice.
type ActivationEvent struct {
	ID           string
	WorkspaceID  string
	ActivationID string
	Kind         string
	Automatic    bool
	Cause        string
	Reason       string
	Actor        string
	At           time.Time
}

// recordEvent writes a pause or resume in the transaction that made it.
func (s *Store) recordEvent(tx *gorm.DB, a Actor, act *Activation, kind, cause, reason string) error {
	ev := ActivationEvent{ID: newID(), WorkspaceID: act.WorkspaceID, ActivationID: act.ID, Kind: kind,
		Automatic: cause != "", Cause: cause, Reason: reason, Actor: a.Name, At: s.now()}
	return translate(tx.Create(&ev).Error)
}

// ActivationEvents lists an activation's pauses and resumes, newest first.
func (s *Store) ActivationEvents(ctx context.Context, workspaceID, activationID string, limit int) ([]ActivationEvent, error) {
	var out []ActivationEvent
	q := s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id = ?", workspaceID, activationID).Order("at DESC, id DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	err := q.Find(&out).Error
	return out, translate(err)
}

// RecordSkippedTick stores a scheduled tick of a paused activation as a skipped run with
// the reason, so Run History shows the gap. Like a queued tick it is unique per
// (activation, tick): a second instance's insert answers ErrConflict.
func (s *Store) RecordSkippedTick(ctx context.Context, workspaceID, activationID string, scheduledFor time.Time, category, message string) (*Run, error) {
	now := s.now()
	return s.insertRunOnce(ctx, Run{ID: newID(), WorkspaceID: workspaceID, ActivationID: activationID, Status: RunSkipped, Trigger: TriggerSchedule,
		ScheduledFor: tickTime(scheduledFor), ErrorCategory: category, ErrorMessage: message, CreatedAt: now, FinishedAt: &now})
}

// PausedScheduledActivations lists the paused activations, of every workspace, that have
// a schedule: their ticks are recorded as skipped.
func (s *Store) PausedScheduledActivations(ctx context.Context) ([]Activation, error) {
	var out []Activation
	err := s.db.WithContext(ctx).Where("status = ? AND schedule_json NOT LIKE ?", ActivationPaused, `%"kind":"manual"%`).Find(&out).Error
	return out, translate(err)
}

// resumeReason says, for Run History, why an activation runs again.
func resumeReason(was, cause string) string {
	if cause == "" {
		return "resumed by hand"
	}
	switch was {
	case PauseCausePlatform:
		return "resumed automatically: the platform is connected again"
	case PauseCauseSource:
		return "resumed automatically: the source validates again"
	case PauseCauseSchema:
		return "resumed automatically: the columns it uses are back"
	case PauseCauseThreshold:
		return "resumed automatically: source issues are back under the threshold"
	}
	return "resumed automatically"
}
