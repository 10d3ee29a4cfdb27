package models

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sluice/migrations"
)

// Run statuses (API.md).
const (
	RunQueued      = "queued"
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunWarnings    = "succeeded_with_warnings"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
	RunSkipped     = "skipped"
	RunCancelled   = "cancelled"
)

// Run triggers.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerAPI      = "api"
	TriggerRetry    = "retry"
)

// RunCounts are a run's record counts (both accounting equations hold on them).
type RunCounts struct {
	Queried      int64 `json:"queried"`
	Added        int64 `json:"added"`
	Changed      int64 `json:"changed"`
	Removed      int64 `json:"removed"`
	Unchanged    int64 `json:"unchanged"`
	Sent         int64 `json:"sent"`
	Rejected     int64 `json:"rejected"`
	Unsent       int64 `json:"unsent"`
	SourceIssues int64 `json:"source_issues"`
}

// Run is one execution of an activation.
type Run struct {
	ID              string
	WorkspaceID     string
	ActivationID    string
	Status          string
	Trigger         string
	ScheduledFor    *time.Time
	FullResync      bool
	Stage           string
	Processed       int64
	RunCounts       `gorm:"embedded"`
	ErrorCategory   string
	ErrorMessage    string
	ErrorDetail     string
	LeaseOwner      string
	LeaseExpiresAt  *time.Time
	CancelRequested bool
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	// StagesJSON is when each stage began and ended ([]RunStage), written at finish.
	StagesJSON *string
	// ErrorSide is which end the error came from (RunSide…), empty when not known.
	ErrorSide string
	// AlertedAt is when a failed or interrupted run's incident was recorded; nil until
	// then (see UnalertedRuns).
	AlertedAt *time.Time
	// WaitJSON is what the run in flight is waiting for (RunWait), nil when it waits for
	// nothing; emptied when the run ends.
	WaitJSON *string
	// WarningCount is how many sync warnings the run has (AddRunWarnings keeps it), so
	// pages read run_warnings only for a run that has some.
	WarningCount int
}

// Outcome is the stored outcome of a finished run, as the runner had it.
func (r *Run) Outcome() RunOutcome {
	return RunOutcome{Status: r.Status, Counts: r.RunCounts, ErrorCategory: r.ErrorCategory, ErrorSide: r.ErrorSide,
		ErrorMessage: r.ErrorMessage, ErrorDetail: r.ErrorDetail}
}

// UnalertedRuns are failed or interrupted runs that finished between since and before
// and whose incident was never recorded: the process stopped between storing the run's
// end and recording its incident. Oldest first, at most limit.
func (s *Store) UnalertedRuns(ctx context.Context, since, before time.Time, limit int) ([]Run, error) {
	var runs []Run
	err := s.db.WithContext(ctx).Where("alerted_at IS NULL AND status IN ? AND finished_at > ? AND finished_at < ?",
		[]string{RunFailed, RunInterrupted}, since, before).Order("finished_at").Limit(limit).Find(&runs).Error
	return runs, translate(err)
}

// RunStage is one stage of a run as it went: the run page's timing.
type RunStage struct {
	Stage      string    `json:"stage"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Processed is the count of rows processed when the stage ended (it grows across
	// stages: the difference with the previous stage is this stage's work).
	Processed int64 `json:"processed"`
}

// Duration is how long the stage took.
func (s RunStage) Duration() time.Duration { return s.FinishedAt.Sub(s.StartedAt) }

// Stages is when each stage of the run began and ended, in order; nil while it runs, and
// for runs recorded before stages were.
func (r *Run) Stages() []RunStage {
	if r.StagesJSON == nil || *r.StagesJSON == "" {
		return nil
	}
	var out []RunStage
	if err := json.Unmarshal([]byte(*r.StagesJSON), &out); err != nil {
		return nil
	}
	return out
}

// Finished reports whether the run is over.
func (r *Run) Finished() bool {
	switch r.Status {
	case RunQueued, RunRunning:
		return false
	}
	return true
}

// EnqueueRun queues a run. A scheduled run carries its tick time: a second insert for
// the same (activation, tick), e.g. another instance's tick, inserts nothing and answers
// ErrConflict.
func (s *Store) EnqueueRun(ctx context.Context, workspaceID, activationID, trigger string, scheduledFor *time.Time, fullResync bool) (*Run, error) {
	r := Run{ID: newID(), WorkspaceID: workspaceID, ActivationID: activationID, Status: RunQueued, Trigger: trigger,
		ScheduledFor: scheduledFor, FullResync: fullResync, CreatedAt: s.now()}
	if scheduledFor != nil {
		r.ScheduledFor = tickTime(*scheduledFor)
	}
	return s.insertRunOnce(ctx, r)
}

// tickTime is a schedule tick as the runs' unique (activation, scheduled_for) key holds it.
func tickTime(t time.Time) *time.Time {
	t = t.UTC().Truncate(time.Second)
	return &t
}

// insertRunOnce stores r unless a run of the same (activation, tick) exists: then it
// inserts nothing and answers ErrConflict.
func (s *Store) insertRunOnce(ctx context.Context, r Run) (*Run, error) {
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrConflict
	}
	return &r, nil
}

// ClaimRun takes the oldest queued run for this worker, with a lease until leaseUntil.
// On PostgreSQL FOR UPDATE SKIP LOCKED lets several instances claim side by side; on
// SQLite the immediate transaction serialises claims. Nothing queued: ErrNotFound.
func (s *Store) ClaimRun(ctx context.Context, owner string, lease time.Duration) (*Run, error) {
	var claimed Run
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// One run at a time per activation: a queued run waits while another one runs.
		q := tx.Where("status = ? AND activation_id NOT IN (?)", RunQueued,
			tx.Model(&Run{}).Select("activation_id").Where("status = ?", RunRunning)).Order("created_at, id").Limit(1)
		if s.dialect == "postgres" {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		if err := q.Take(&claimed).Error; err != nil {
			return translate(err)
		}
		now := s.now()
		until := now.Add(lease)
		claimed.Status, claimed.LeaseOwner, claimed.LeaseExpiresAt, claimed.StartedAt = RunRunning, owner, &until, &now
		res := tx.Model(&Run{}).Where("id = ? AND status = ?", claimed.ID, RunQueued).
			Updates(map[string]any{"status": RunRunning, "lease_owner": owner, "lease_expires_at": until, "started_at": now})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &claimed, nil
}

// ErrLeaseLost means another worker (or the reaper) took the run: stop working on it.
var ErrLeaseLost = errors.New("models: run lease lost")

// ErrCancelled means a user cancelled the run.
var ErrCancelled = errors.New("models: run cancelled")

// Heartbeat renews a run's lease and records its progress. It answers ErrLeaseLost when
// the run is no longer this worker's, and ErrCancelled when a cancel was asked for.
func (s *Store) Heartbeat(ctx context.Context, runID, owner string, lease time.Duration, stage string, processed int64) error {
	until := s.now().Add(lease)
	res := s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND lease_owner = ? AND status = ?", runID, owner, RunRunning).
		Updates(map[string]any{"lease_expires_at": until, "stage": stage, "processed": processed})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrLeaseLost
	}
	var cancel bool
	if err := s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", runID).Select("cancel_requested").Scan(&cancel).Error; err != nil {
		return translate(err)
	}
	if cancel {
		return ErrCancelled
	}
	return nil
}

// Sides a run's error can come from: its fix points there (a permission error reading
// the warehouse is the source's to fix, a 401 the platform's).
const (
	RunSideSource      = "source"      // the warehouse, or the model read from it
	RunSideDestination = "destination" // the platform
	RunSideActivation  = "activation"  // the activation's mapping or segment
	RunSideData        = "data"        // the rows themselves: every one was withheld
	RunSideSluice      = "sluice"      // Sluice itself
)

// RunOutcome is how a run ended.
type RunOutcome struct {
	Status        string
	Counts        RunCounts
	ErrorCategory string
	// ErrorSide is which end the error came from (RunSide…).
	ErrorSide    string
	ErrorMessage string
	ErrorDetail  string
	// Stages is when each stage began and ended (none when the run never reached one).
	Stages []RunStage
	// DuplicateKeys counts the rows the run withheld for sharing a primary key: what
	// flags the model (not stored with the run; its issues keep each row).
	DuplicateKeys int64
}

// FinishRun records a run's end, if this worker still holds it.
func (s *Store) FinishRun(ctx context.Context, runID, owner string, o RunOutcome) error {
	now := s.now()
	var stages *string
	if len(o.Stages) > 0 {
		raw, err := json.Marshal(o.Stages)
		if err != nil {
			return err
		}
		v := string(raw)
		stages = &v
	}
	res := s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND lease_owner = ? AND status = ?", runID, owner, RunRunning).
		Updates(map[string]any{
			"status": o.Status, "finished_at": now, "lease_expires_at": nil, "stage": "finish", "wait_json": nil,
			"queried": o.Counts.Queried, "added": o.Counts.Added, "changed": o.Counts.Changed, "removed": o.Counts.Removed,
			"unchanged": o.Counts.Unchanged, "sent": o.Counts.Sent, "rejected": o.Counts.Rejected, "unsent": o.Counts.Unsent,
			"source_issues": o.Counts.SourceIssues, "error_category": o.ErrorCategory, "error_message": o.ErrorMessage, "error_detail": o.ErrorDetail,
			"error_side": o.ErrorSide, "stages_json": stages,
		})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrLeaseLost
	}
	return nil
}

// SkipRun ends a queued run without running it (activation paused, preflight blocked).
func (s *Store) SkipRun(ctx context.Context, runID, category, message string) error {
	now := s.now()
	return translate(s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND status IN ?", runID, []string{RunQueued, RunRunning}).
		Updates(map[string]any{"status": RunSkipped, "finished_at": now, "lease_expires_at": nil, "wait_json": nil, "error_category": category, "error_message": message}).Error)
}

// CancelRun asks a run to stop: a queued run is cancelled at once, a running one at its
// next heartbeat.
func (s *Store) CancelRun(ctx context.Context, workspaceID, runID string) (*Run, error) {
	r, err := s.RunByID(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	switch r.Status {
	case RunQueued:
		now := s.now()
		err = s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND status = ?", runID, RunQueued).
			Updates(map[string]any{"status": RunCancelled, "finished_at": now}).Error
	case RunRunning:
		err = s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", runID).Update("cancel_requested", true).Error
	default:
		return nil, invalid("run", "This run is over already.")
	}
	if err != nil {
		return nil, translate(err)
	}
	return s.RunByID(ctx, workspaceID, runID)
}

// ReapRuns marks running runs whose lease expired as interrupted (their process died),
// and answers them.
func (s *Store) ReapRuns(ctx context.Context) ([]Run, error) {
	var runs []Run
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("status = ? AND lease_expires_at < ?", RunRunning, now).Find(&runs).Error; err != nil {
			return translate(err)
		}
		for _, r := range runs {
			if err := tx.Model(&Run{}).Where("id = ? AND status = ?", r.ID, RunRunning).Updates(map[string]any{
				"status": RunInterrupted, "finished_at": now, "lease_expires_at": nil, "wait_json": nil,
				"error_category": "connection", "error_side": RunSideSluice, "error_message": "The run was interrupted: the Sluice process running it stopped. The next run sends every record not yet acknowledged.",
			}).Error; err != nil {
				return translate(err)
			}
		}
		return nil
	})
	return runs, err
}

// RunByID loads a run of a workspace.
func (s *Store) RunByID(ctx context.Context, workspaceID, id string) (*Run, error) {
	return byID[Run](ctx, s, workspaceID, id)
}

// RunWithActivation loads a run of a workspace and what its page or answer needs of its
// activation, in one query. A run whose activation is gone has an empty ref.
func (s *Store) RunWithActivation(ctx context.Context, workspaceID, id string) (*Run, ActivationRef, error) {
	var (
		r                      Run
		ref                    ActivationRef
		found, activationFound bool
	)
	q := s.db.WithContext(ctx).Table("runs").
		Select("runs."+strings.ReplaceAll(runColumns, ", ", ", runs.")+", COALESCE(activations.name, ''), "+
			"COALESCE(activations.segment_id, ''), COALESCE(activations.platform_id, ''), activations.id IS NOT NULL").
		Joins("LEFT JOIN activations ON activations.id = runs.activation_id AND activations.workspace_id = runs.workspace_id").
		Where("runs.workspace_id = ? AND runs.id = ?", workspaceID, id).Limit(1)
	err := s.eachRow(q, func(row rowScanner) error {
		found = true
		return row.Scan(append(runFields(&r), &ref.Name, &ref.SegmentID, &ref.PlatformID, &activationFound)...)
	})
	switch {
	case err != nil:
		return nil, ActivationRef{}, err
	case !found:
		return nil, ActivationRef{}, ErrNotFound
	}
	if !activationFound {
		return &r, ActivationRef{}, nil
	}
	ref.ID, ref.WorkspaceID = r.ActivationID, workspaceID
	return &r, ref, nil
}

// ListRuns returns an activation's runs, newest first, a page at a time.
func (s *Store) ListRuns(ctx context.Context, workspaceID, activationID string, limit int) ([]Run, error) {
	return s.findRuns(s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id = ?", workspaceID, activationID).
		Order("created_at DESC, id DESC").Limit(clampLimit(limit)), runColumns, scanRun)
}

// runColumns are every column of a run, in the order scanRun reads them: lists of runs
// are read with them, without gorm's reflection, which cost more than the queries.
const runColumns = "id, workspace_id, activation_id, status, trigger, scheduled_for, full_resync, stage, processed, " +
	"queried, added, changed, removed, unchanged, sent, rejected, unsent, source_issues, error_category, error_message, " +
	"error_detail, lease_owner, lease_expires_at, cancel_requested, created_at, started_at, finished_at, stages_json, error_side, alerted_at, " +
	"wait_json, warning_count"

func scanRun(rows rowScanner, r *Run) error {
	return rows.Scan(runFields(r)...)
}

// runFields are where runColumns are read into.
func runFields(r *Run) []any {
	return []any{&r.ID, &r.WorkspaceID, &r.ActivationID, &r.Status, &r.Trigger, &r.ScheduledFor, &r.FullResync, &r.Stage, &r.Processed,
		&r.Queried, &r.Added, &r.Changed, &r.Removed, &r.Unchanged, &r.Sent, &r.Rejected, &r.Unsent, &r.SourceIssues, &r.ErrorCategory,
		&r.ErrorMessage, &r.ErrorDetail, &r.LeaseOwner, &r.LeaseExpiresAt, &r.CancelRequested, &r.CreatedAt, &r.StartedAt, &r.FinishedAt,
		&r.StagesJSON, &r.ErrorSide, &r.AlertedAt, &r.WaitJSON, &r.WarningCount}
}

// findRuns runs q, a query of runs, for the columns given and reads each row with scan.
func (s *Store) findRuns(q *gorm.DB, columns string, scan func(rowScanner, *Run) error) ([]Run, error) {
	var out []Run
	err := s.eachRow(q.Model(&Run{}).Select(columns), func(row rowScanner) error {
		var r Run
		if err := scan(row, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// runShownColumns are the columns of a run that its JSON and its fix link show: all but
// the technical detail of its error, its lease, its stages and its alert, which only its
// own page and the workers read. scanRunShown reads them in this order.
const runShownColumns = "id, workspace_id, activation_id, status, trigger, scheduled_for, full_resync, stage, processed, " +
	"queried, added, changed, removed, unchanged, sent, rejected, unsent, source_issues, error_category, error_message, " +
	"cancel_requested, created_at, started_at, finished_at, error_side, wait_json"

func scanRunShown(rows rowScanner, r *Run) error {
	return rows.Scan(runShownFields(r)...)
}

// runShownFields are where runShownColumns are read into.
func runShownFields(r *Run) []any {
	return []any{&r.ID, &r.WorkspaceID, &r.ActivationID, &r.Status, &r.Trigger, &r.ScheduledFor, &r.FullResync, &r.Stage, &r.Processed,
		&r.Queried, &r.Added, &r.Changed, &r.Removed, &r.Unchanged, &r.Sent, &r.Rejected, &r.Unsent, &r.SourceIssues, &r.ErrorCategory,
		&r.ErrorMessage, &r.CancelRequested, &r.CreatedAt, &r.StartedAt, &r.FinishedAt, &r.ErrorSide, &r.WaitJSON}
}

// lastRunShownColumns are runShownColumns of the run r that activations a LEFT JOIN: the
// columns that cannot be null are given their zero values when there is no run, but
// created_at, which is read as null then.
const lastRunShownColumns = "COALESCE(r.id, ''), COALESCE(r.workspace_id, ''), COALESCE(r.activation_id, ''), COALESCE(r.status, ''), " +
	"COALESCE(r.trigger, ''), r.scheduled_for, COALESCE(r.full_resync, false), COALESCE(r.stage, ''), COALESCE(r.processed, 0), " +
	"COALESCE(r.queried, 0), COALESCE(r.added, 0), COALESCE(r.changed, 0), COALESCE(r.removed, 0), COALESCE(r.unchanged, 0), " +
	"COALESCE(r.sent, 0), COALESCE(r.rejected, 0), COALESCE(r.unsent, 0), COALESCE(r.source_issues, 0), COALESCE(r.error_category, ''), " +
	"COALESCE(r.error_message, ''), COALESCE(r.cancel_requested, false), r.created_at, r.started_at, " +
	"r.finished_at, COALESCE(r.error_side, ''), r.wait_json"

// runSummaryColumns are the columns of a run that a history, a chart or a progress bar
// shows; scanRunSummary reads them in this order.
const runSummaryColumns = "id, activation_id, status, trigger, created_at, started_at, finished_at, queried, added, changed, removed, " +
	"sent, rejected, source_issues, error_category, error_message, error_side, warning_count"

func scanRunSummary(rows rowScanner, r *Run) error {
	return rows.Scan(&r.ID, &r.ActivationID, &r.Status, &r.Trigger, &r.CreatedAt, &r.StartedAt, &r.FinishedAt, &r.Queried, &r.Added,
		&r.Changed, &r.Removed, &r.Sent, &r.Rejected, &r.SourceIssues, &r.ErrorCategory, &r.ErrorMessage, &r.ErrorSide, &r.WarningCount)
}

// ListRunSummaries is ListRuns with only the columns a run history, its chart and a
// progress bar show (runSummaryColumns; the rest are left empty), read without
// reflection: an activation's page reads 50 of them on every view.
func (s *Store) ListRunSummaries(ctx context.Context, workspaceID, activationID string, limit int) ([]Run, error) {
	out, err := s.findRuns(s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id = ?", workspaceID, activationID).
		Order("created_at DESC, id DESC").Limit(clampLimit(limit)), runSummaryColumns, scanRunSummary)
	for i := range out {
		out[i].WorkspaceID = workspaceID
	}
	return out, err
}

// RunCursor is where a page of an activation's runs (newest first) ended: the last
// run shown. The next page starts with the run that sorts right after it, even when that
// run is gone.
type RunCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListRunsBefore returns up to limit of an activation's runs that sort after the cursor
// (newest first), read by keyset from the (activation_id, created_at, id) index, so a
// page costs the same on the first and the thousandth page of a long history. A nil
// cursor starts from the newest run. The columns only a run's own page shows
// (runShownColumns) are left empty.
func (s *Store) ListRunsBefore(ctx context.Context, workspaceID, activationID string, cursor *RunCursor, limit int) ([]Run, error) {
	q := s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id = ?", workspaceID, activationID)
	if cursor != nil {
		q = q.Where("created_at < ? OR (created_at = ? AND id < ?)", cursor.CreatedAt, cursor.CreatedAt, cursor.ID)
	}
	return s.findRuns(q.Order("created_at DESC, id DESC").Limit(max(1, min(limit, 1000))), runShownColumns, scanRunShown)
}

// RunsByIDs loads the runs of a workspace with these ids in one query, by id; ids not
// found are left out. The activations list reads every row's last run this way. The
// columns only a run's own page shows (runShownColumns) are left empty.
func (s *Store) RunsByIDs(ctx context.Context, workspaceID string, ids []string) (map[string]*Run, error) {
	out := make(map[string]*Run, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	runs, err := s.findRuns(s.db.WithContext(ctx).Where("workspace_id = ? AND id IN ?", workspaceID, ids), runShownColumns, scanRunShown)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		out[runs[i].ID] = &runs[i]
	}
	return out, nil
}

// RunIssue is one record of a run that was not delivered.
type RunIssue struct {
	ID         string
	RunID      string
	PrimaryKey string
	Stage      string
	Code       string
	Field      string
	Message    string
	CreatedAt  time.Time
}

// RunLog is one line of a run's log.
type RunLog struct {
	ID      string
	RunID   string
	At      time.Time
	Level   string
	Message string
}

// RunChange is one key's fate in a run (the record timeline).
type RunChange struct {
	ID           string
	RunID        string
	ActivationID string
	PrimaryKey   string
	Kind         string
	Detail       string
	CreatedAt    time.Time
}

// RunSample is one request and answer kept for the debugger (JSON of connectors.Exchange).
type RunSample struct {
	ID           string
	RunID        string
	ExchangeJSON string
	CreatedAt    time.Time
}

// AddRunIssues, AddRunLogs, AddRunChanges and AddRunSample write a run's outputs in batches.
func (s *Store) AddRunIssues(ctx context.Context, issues []RunIssue) error {
	for i := range issues {
		issues[i].ID, issues[i].CreatedAt = newID(), s.now()
	}
	if s.dialect == migrations.Postgres && len(issues) > 0 {
		return s.copyRows(ctx, copyTable{"run_issues", []string{"id", "run_id", "primary_key", "stage", "code", "field", "message", "created_at"}, len(issues), func(i int) []any {
			is := &issues[i]
			return []any{is.ID, is.RunID, is.PrimaryKey, is.Stage, is.Code, is.Field, is.Message, is.CreatedAt}
		}})
	}
	return s.createInBatches(ctx, &issues, len(issues))
}

// AddRunLogs writes log lines.
func (s *Store) AddRunLogs(ctx context.Context, logs []RunLog) error {
	for i := range logs {
		logs[i].ID = newID()
	}
	return s.createInBatches(ctx, &logs, len(logs))
}

// AddRunChanges writes timeline entries, all or none. Entries without a detail (a
// record added, changed or removed as planned: a first sync of a million records has a
// million) are stored in groups, the keys of one run and kind in a row
// (run_change_groups); entries with a detail (rejected, withheld, not sent) a row each.
func (s *Store) AddRunChanges(ctx context.Context, changes []RunChange) error {
	var single []RunChange
	groups := map[[2]string][]string{} // run, kind → keys
	var order [][2]string
	activation := map[string]string{} // run → activation
	for _, c := range changes {
		if c.Detail != "" {
			c.ID, c.CreatedAt = newID(), s.now()
			single = append(single, c)
			continue
		}
		g := [2]string{c.RunID, c.Kind}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], c.PrimaryKey)
		activation[c.RunID] = c.ActivationID
	}
	var grouped []RunChangeGroup
	for _, g := range order {
		keys := groups[g]
		slices.Sort(keys)
		for len(keys) > 0 {
			part := keys[:min(len(keys), changeGroupMax)]
			keys = keys[len(part):]
			grouped = append(grouped, RunChangeGroup{ID: newID(), RunID: g[0], ActivationID: activation[g[0]], Kind: g[1],
				FirstKey: part[0], LastKey: part[len(part)-1], Entries: len(part), Keys: encodeKeys(part), CreatedAt: s.now()})
		}
	}
	if len(grouped)+len(single) == 0 {
		return nil
	}
	if s.dialect == migrations.Postgres {
		return s.copyRows(ctx,
			copyTable{"run_change_groups", []string{"id", "run_id", "activation_id", "kind", "first_key", "last_key", "entries", "keys", "created_at"}, len(grouped), func(i int) []any {
				g := &grouped[i]
				return []any{g.ID, g.RunID, g.ActivationID, g.Kind, g.FirstKey, g.LastKey, g.Entries, g.Keys, g.CreatedAt}
			}},
			copyTable{"run_changes", []string{"id", "run_id", "activation_id", "primary_key", "kind", "detail", "created_at"}, len(single), func(i int) []any {
				c := &single[i]
				return []any{c.ID, c.RunID, c.ActivationID, c.PrimaryKey, c.Kind, c.Detail, c.CreatedAt}
			}})
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(grouped) > 0 {
			if err := tx.CreateInBatches(&grouped, 500).Error; err != nil {
				return err
			}
		}
		if len(single) > 0 {
			return tx.CreateInBatches(&single, 500).Error
		}
		return nil
	}))
}

// RunChangeGroup is timeline entries without a detail, of one run and kind: their keys,
// sorted, encoded as the sync state's (appendKey).
type RunChangeGroup struct {
	ID           string
	RunID        string
	ActivationID string
	Kind         string
	FirstKey     string
	LastKey      string
	Entries      int
	Keys         []byte
	CreatedAt    time.Time
}

// changeGroupMax is how many keys a timeline group holds at most.
const changeGroupMax = 4096

func encodeKeys(keys []string) []byte {
	buf := make([]byte, 0, len(keys)*8)
	prev := ""
	for _, k := range keys {
		buf = appendKey(buf, prev, k)
		prev = k
	}
	return buf
}

// groupHolds reports whether a group's encoded keys hold key.
func groupHolds(body []byte, key string) (bool, error) {
	var k []byte
	for len(body) > 0 {
		var ok bool
		if k, body, ok = readKey(body, k); !ok {
			return false, errBadEncoding
		}
		if string(k) == key {
			return true, nil
		}
	}
	return false, nil
}

// AddRunSample keeps one exchange.
func (s *Store) AddRunSample(ctx context.Context, runID string, exchange any) error {
	raw, err := json.Marshal(exchange)
	if err != nil {
		return err
	}
	return translate(s.db.WithContext(ctx).Create(&RunSample{ID: newID(), RunID: runID, ExchangeJSON: string(raw), CreatedAt: s.now()}).Error)
}

func (s *Store) createInBatches(ctx context.Context, rows any, n int) error {
	if n == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).CreateInBatches(rows, 500).Error)
}

// IssueFilter narrows a run's issues.
type IssueFilter struct {
	Stage string // source, destination, or both
	// Reason narrows them to one line of the run's summary (RunIssueSummary); nil for all.
	Reason *IssueReason
	Cursor string
	Limit  int
}

// IssueReason is why records were not delivered, as the run's summary groups them: the
// issue's code and field, and for a destination rejection the platform's words (its
// code is always "rejected": the message is the reason). A source issue's message
// quotes the value at fault, so it is not part of its reason.
type IssueReason struct {
	Code    string
	Field   string
	Message string
}

// IssueGroup is one line of a run's summary: a reason and how many records it kept back.
type IssueGroup struct {
	Stage  string
	Reason IssueReason
	Count  int64
}

// IssueSummary is a run's issues by reason: the commonest groups of each stage, and
// how many issues each stage has in all (the groups shown may not add up to it).
type IssueSummary struct {
	Groups map[string][]IssueGroup
	Totals map[string]int64
}

// where narrows q, a query on run_issues, to the run's issues that f selects.
func (f IssueFilter) where(q *gorm.DB, runID string) *gorm.DB {
	q = q.Where("run_id = ?", runID)
	if f.Stage != "" {
		q = q.Where("stage = ?", f.Stage)
	}
	if f.Reason != nil {
		q = q.Where("code = ? AND field = ?", f.Reason.Code, f.Reason.Field)
		if f.Reason.Message != "" {
			q = q.Where("message = ?", f.Reason.Message)
		}
	}
	return q
}

// RunIssueSummary groups the issues of r, a run already read from its workspace, by
// stage and reason in one query, the database counting (a run may have millions): at
// most limit groups per stage, the largest first, with each stage's total.
func (s *Store) RunIssueSummary(ctx context.Context, r *Run, limit int) (IssueSummary, error) {
	// A rejection's reason is its message (see IssueReason).
	const reason = "CASE WHEN stage = 'destination' THEN message ELSE '' END"
	var rows []struct {
		Stage, Code, Field, Message string
		Count, Total                int64
	}
	err := s.db.WithContext(ctx).Raw(`SELECT stage, code, field, message, count, total FROM (
		SELECT stage, code, field, message, count, SUM(count) OVER (PARTITION BY stage) AS total,
			ROW_NUMBER() OVER (PARTITION BY stage ORDER BY count DESC, code, field, message) AS n
		FROM (SELECT stage, code, field, `+reason+` AS message, COUNT(*) AS count FROM run_issues
			WHERE run_id = ? GROUP BY stage, code, field, `+reason+`) AS g) AS ranked
		WHERE n <= ? ORDER BY stage, n`, r.ID, max(limit, 1)).Scan(&rows).Error
	if err != nil {
		return IssueSummary{}, translate(err)
	}
	out := IssueSummary{Groups: map[string][]IssueGroup{}, Totals: map[string]int64{}}
	for _, g := range rows {
		out.Groups[g.Stage] = append(out.Groups[g.Stage], IssueGroup{Stage: g.Stage, Reason: IssueReason{Code: g.Code, Field: g.Field, Message: g.Message}, Count: g.Count})
		out.Totals[g.Stage] = g.Total
	}
	return out, nil
}

// ListRunIssues returns a page of a run's issues (the run must be the workspace's).
func (s *Store) ListRunIssues(ctx context.Context, workspaceID, runID string, f IssueFilter) ([]RunIssue, string, error) {
	r, err := s.RunByID(ctx, workspaceID, runID)
	if err != nil {
		return nil, "", err
	}
	return s.RunIssues(ctx, r, f)
}

// RunIssues returns a page of the issues of r, a run already read from its workspace
// (RunByID, RunWithActivation), so it is not read again.
func (s *Store) RunIssues(ctx context.Context, r *Run, f IssueFilter) ([]RunIssue, string, error) {
	limit := clampLimit(f.Limit)
	q := f.where(s.db.WithContext(ctx), r.ID)
	if f.Cursor != "" {
		q = q.Where("id > ?", f.Cursor)
	}
	var out []RunIssue
	if err := q.Order("id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// FirstRunIssues reads the first page (limit) of each stage's issues of r, a run already
// read from its workspace, in one query: a run's page shows both. next says, by stage,
// where the following page starts ("" when the first holds them all).
func (s *Store) FirstRunIssues(ctx context.Context, r *Run, stages []string, limit int) (pages map[string][]RunIssue, next map[string]string, err error) {
	limit = clampLimit(limit)
	var parts []string
	var args []any
	for _, stage := range stages {
		parts = append(parts, "SELECT * FROM (SELECT * FROM run_issues WHERE run_id = ? AND stage = ? ORDER BY id LIMIT "+strconv.Itoa(limit+1)+") AS s"+strconv.Itoa(len(parts)))
		args = append(args, r.ID, stage)
	}
	var all []RunIssue
	if err := s.db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&all).Error; err != nil {
		return nil, nil, translate(err)
	}
	pages, next = map[string][]RunIssue{}, map[string]string{}
	for _, is := range all {
		pages[is.Stage] = append(pages[is.Stage], is)
	}
	for stage, list := range pages {
		slices.SortFunc(list, func(a, b RunIssue) int { return cmp.Compare(a.ID, b.ID) })
		if len(list) > limit {
			pages[stage], next[stage] = list[:limit], list[limit-1].ID
		}
	}
	return pages, next, nil
}

// CountRunIssues counts a run's issues that f selects (its cursor and limit aside).
func (s *Store) CountRunIssues(ctx context.Context, runID string, f IssueFilter) (int64, error) {
	var n int64
	return n, translate(f.where(s.db.WithContext(ctx).Model(&RunIssue{}), runID).Count(&n).Error)
}

// ListRunLogs returns a run's log, oldest first: the lines of the levels given, or
// every line when none is.
func (s *Store) ListRunLogs(ctx context.Context, workspaceID, runID string, limit int, levels ...string) ([]RunLog, error) {
	r, err := s.RunByID(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	return s.RunLogs(ctx, r, limit, levels...)
}

// RunLogs is ListRunLogs for a run already read from its workspace.
func (s *Store) RunLogs(ctx context.Context, r *Run, limit int, levels ...string) ([]RunLog, error) {
	q := s.db.WithContext(ctx).Where("run_id = ?", r.ID)
	if len(levels) > 0 {
		q = q.Where("level IN ?", levels)
	}
	var out []RunLog
	err := q.Order("at, id").Limit(max(limit, 1)).Find(&out).Error
	return out, translate(err)
}

// ListRunSamples returns a run's kept exchanges.
func (s *Store) ListRunSamples(ctx context.Context, workspaceID, runID string) ([]RunSample, error) {
	r, err := s.RunByID(ctx, workspaceID, runID)
	if err != nil {
		return nil, err
	}
	return s.RunSamples(ctx, r)
}

// RunSamples is ListRunSamples for a run already read from its workspace.
func (s *Store) RunSamples(ctx context.Context, r *Run) ([]RunSample, error) {
	var out []RunSample
	err := s.db.WithContext(ctx).Where("run_id = ?", r.ID).Order("created_at, id").Find(&out).Error
	return out, translate(err)
}

// RecordTimeline returns a key's entries across an activation's runs, newest first:
// its rows in run_changes, and the groups whose key range holds it.
func (s *Store) RecordTimeline(ctx context.Context, workspaceID, activationID, key string) ([]RunChange, error) {
	if _, err := s.ActivationByID(ctx, workspaceID, activationID); err != nil {
		return nil, err
	}
	const limit = 200
	var out []RunChange
	err := s.db.WithContext(ctx).Where("activation_id = ? AND primary_key = ?", activationID, key).
		Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, translate(err)
	}
	rows, err := s.db.WithContext(ctx).Model(&RunChangeGroup{}).
		Where("activation_id = ? AND first_key <= ? AND last_key >= ?", activationID, key, key).
		Order("created_at DESC, id DESC").Rows()
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var g RunChangeGroup
		if err := s.db.ScanRows(rows, &g); err != nil {
			return nil, translate(err)
		}
		holds, err := groupHolds(g.Keys, key)
		if err != nil {
			return nil, err
		}
		if holds {
			out = append(out, RunChange{ID: g.ID, RunID: g.RunID, ActivationID: g.ActivationID, PrimaryKey: key, Kind: g.Kind, CreatedAt: g.CreatedAt})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	slices.SortStableFunc(out, func(a, b RunChange) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out[:min(len(out), limit)], nil
}

// KeyEntry is one run's entry for a key in the record lookup: what happened to the
// record and in which run; for a withheld or rejected record, the issues saying why.
type KeyEntry struct {
	Change RunChange
	Run    Run
	Issues []RunIssue
}

// KeyHistory is one primary key across an activation's runs, newest first: the
// answer to "why isn't this customer in the audience?".
type KeyHistory struct {
	Entries []KeyEntry
	// CompleteRuns counts the runs finished since the cutoff that read the whole
	// segment (succeeded, with or without warnings). A key they have no entry for was
	// not in the segment, or was in it unchanged (unchanged records leave no entry).
	CompleteRuns int64
	// OlderRuns reports complete runs finished before the cutoff: retention deleted
	// their entries, so the key may have been sent then and left unchanged since.
	OlderRuns bool
}

// KeyHistory looks one primary key up across an activation's runs; since is the
// retention cutoff (runs finished before it have no entries left).
func (s *Store) KeyHistory(ctx context.Context, workspaceID, activationID, key string, since time.Time) (*KeyHistory, error) {
	changes, err := s.RecordTimeline(ctx, workspaceID, activationID, key)
	if err != nil {
		return nil, err
	}
	h := &KeyHistory{}
	var runIDs, whyIDs []string
	seen := map[string]bool{}
	for _, c := range changes {
		if !seen[c.RunID] {
			seen[c.RunID] = true
			runIDs = append(runIDs, c.RunID)
		}
		if c.Kind == "withheld" || c.Kind == "rejected" {
			whyIDs = append(whyIDs, c.RunID)
		}
	}
	runs := map[string]Run{}
	if len(runIDs) > 0 {
		var list []Run
		if err := s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id = ? AND id IN ?", workspaceID, activationID, runIDs).Find(&list).Error; err != nil {
			return nil, translate(err)
		}
		for _, r := range list {
			runs[r.ID] = r
		}
	}
	issues := map[string][]RunIssue{}
	if len(whyIDs) > 0 {
		var list []RunIssue
		if err := s.db.WithContext(ctx).Where("run_id IN ? AND primary_key = ?", whyIDs, key).Order("id").Find(&list).Error; err != nil {
			return nil, translate(err)
		}
		for _, is := range list {
			issues[is.RunID] = append(issues[is.RunID], is)
		}
	}
	for _, c := range changes {
		r, ok := runs[c.RunID]
		if !ok {
			continue
		}
		e := KeyEntry{Change: c, Run: r}
		if c.Kind == "withheld" || c.Kind == "rejected" {
			e.Issues = issues[c.RunID]
		}
		h.Entries = append(h.Entries, e)
	}
	complete := s.db.WithContext(ctx).Model(&Run{}).Where("workspace_id = ? AND activation_id = ? AND status IN ?",
		workspaceID, activationID, []string{RunSucceeded, RunWarnings})
	if err := complete.Session(&gorm.Session{}).Where("finished_at >= ?", since.UTC()).Count(&h.CompleteRuns).Error; err != nil {
		return nil, translate(err)
	}
	var older int64
	if err := complete.Session(&gorm.Session{}).Where("finished_at < ?", since.UTC()).Count(&older).Error; err != nil {
		return nil, translate(err)
	}
	h.OlderRuns = older > 0
	return h, nil
}

// PruneRunDetails deletes logs, issues, changes and samples of runs finished before
// cutoff (the run rows themselves stay, with their counts).
func (s *Store) PruneRunDetails(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for _, table := range []string{"run_logs", "run_issues", "run_changes", "run_change_groups", "run_samples"} {
		res := s.db.WithContext(ctx).Exec(fmt.Sprintf(`DELETE FROM %s WHERE run_id IN (SELECT id FROM runs WHERE finished_at < ?)`, table), cutoff.UTC())
		if res.Error != nil {
			return total, translate(res.Error)
		}
		total += res.RowsAffected
	}
	return total, nil
}

// SetActivationHealth records the outcome of a run on its activation.
func (s *Store) SetActivationHealth(ctx context.Context, workspaceID, activationID, runID, health string) error {
	return translate(s.db.WithContext(ctx).Model(&Activation{}).Where("workspace_id = ? AND id = ?", workspaceID, activationID).
		Updates(map[string]any{"health": health, "last_run_id": runID}).Error)
}

// ActiveRun is an activation's queued or running run; ErrNotFound when it has none.
func (s *Store) ActiveRun(ctx context.Context, activationID string) (*Run, error) {
	var r Run
	err := s.db.WithContext(ctx).Where("activation_id = ? AND status IN ?", activationID, []string{RunQueued, RunRunning}).
		Order("created_at").Take(&r).Error
	if err != nil {
		return nil, translate(err)
	}
	return &r, nil
}
