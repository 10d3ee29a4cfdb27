package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/engine"
	"sluice/models"
	"sluice/segments"
)

// preflightError is a run that cannot start, with its category and where to fix it.
type preflightError struct {
	category connectors.Category
	// side is which end is at fault (models.RunSide…), so the fix points there.
	side    string
	message string
	// detail is the raw error behind message, for the run's debugger.
	detail string
	skip   bool
}

func (e *preflightError) Error() string { return e.message }

// execute runs one claimed run to its end and hands the outcome to finish.
func (s *Runner) execute(ctx context.Context, run *models.Run) {
	log := s.log.With(slog.String("run_id", run.ID), slog.String("activation_id", run.ActivationID))
	rec := newRecorder(s.store, run, s.owner, s.opts.Lease)
	job, act, closeAll, err := s.prepare(ctx, run, rec)
	defer closeAll()
	var outcome models.RunOutcome
	var pf *preflightError
	switch {
	case errors.As(err, &pf) && pf.skip:
		outcome = models.RunOutcome{Status: models.RunSkipped, ErrorCategory: string(pf.category), ErrorMessage: pf.message}
	case errors.As(err, &pf):
		rec.Log(ctx, engine.LogLine{At: time.Now(), Level: "error", Message: "Preflight: " + pf.message})
		outcome = models.RunOutcome{Status: models.RunFailed, ErrorCategory: string(pf.category), ErrorSide: pf.side, ErrorMessage: pf.message, ErrorDetail: pf.detail}
	case err != nil:
		log.Error("prepare run", slog.Any("error", err))
		outcome = models.RunOutcome{Status: models.RunFailed, ErrorCategory: string(connectors.CategoryConnection), ErrorSide: models.RunSideSluice,
			ErrorMessage: "The run could not start: Sluice could not read what it needs from its own database. It tries again at the next run.",
			ErrorDetail:  err.Error()}
	default:
		release, err := s.platformSlot(ctx, act.PlatformID, func() error {
			return s.store.Heartbeat(ctx, run.ID, s.owner, s.opts.Lease, "waiting for the platform", 0)
		})
		if err != nil {
			outcome = models.RunOutcome{Status: models.RunCancelled, ErrorMessage: "Sluice stopped before the run could start."}
			break
		}
		res := s.opts.Engine.Run(ctx, *job, stateAdapter{s.store}, rec)
		release()
		outcome = outcomeOf(res, rec.issueCodes())
	}
	if err := rec.flush(ctx); err != nil {
		log.Error("flush run outputs", slog.Any("error", err))
	}
	outcome.Stages = rec.stageTimes()
	s.finish(context.WithoutCancel(ctx), run, act, outcome)
}

// finish stores the outcome of a run this instance executed, then hands it to ended.
// act is nil when the activation could not be loaded.
func (s *Runner) finish(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	log := s.log.With(slog.String("run_id", run.ID), slog.String("activation_id", run.ActivationID))
	if o.Status == models.RunSkipped {
		if err := s.store.SkipRun(ctx, run.ID, o.ErrorCategory, o.ErrorMessage); err != nil {
			log.Error("skip run", slog.Any("error", err))
			return
		}
		s.ended(ctx, run, act, o)
		return
	}
	if err := s.storeOutcome(ctx, run, o); err != nil {
		log.Error("finish run", slog.Any("error", err))
		return
	}
	s.ended(ctx, run, act, o)
}

// storeOutcome stores a run's end, trying again while the run's lease lasts: a
// restarting database must not leave the run to the reaper, without its counts and
// with a message that blames a process that did not stop.
func (s *Runner) storeOutcome(ctx context.Context, run *models.Run, o models.RunOutcome) error {
	deadline := time.Now().Add(s.opts.Lease / 2)
	wait := 100 * time.Millisecond
	for {
		err := s.store.FinishRun(ctx, run.ID, s.owner, o)
		if err == nil || errors.Is(err, models.ErrLeaseLost) || time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// outcomeOf is how the engine's result is stored; codes counts the run's source issues
// by code, to say why a run that delivered nothing withheld its rows.
func outcomeOf(res engine.Result, codes map[string]int64) models.RunOutcome {
	c := res.Counts
	o := models.RunOutcome{Counts: models.RunCounts{Queried: c.Queried, Added: c.Added, Changed: c.Changed, Removed: c.Removed,
		Unchanged: c.Unchanged, Sent: c.Sent, Rejected: c.Rejected, Unsent: c.Unsent, SourceIssues: c.SourceIssues},
		DuplicateKeys: res.DuplicateKeys}
	switch {
	case res.Err != nil:
		o.Status, o.ErrorCategory, o.ErrorMessage, o.ErrorDetail = models.RunFailed, string(res.Err.Category), res.Err.Message, connectors.MaskURLs(res.Err.Detail)
		o.ErrorSide = res.Side
		switch {
		case errors.Is(res.Err, models.ErrCancelled):
			o.Status = models.RunCancelled
		case errors.Is(res.Err, context.Canceled):
			// This instance is shutting down: the run stopped between batches.
			o.Status, o.ErrorMessage = models.RunInterrupted, "Sluice stopped during the run. The next run sends every record not yet acknowledged."
		}
	case c.Queried > 0 && c.SourceIssues == c.Queried && c.Sent+c.Rejected == 0:
		// Nothing was delivered because of the data itself: that is a failure to fix,
		// not a warning to glance at.
		o.Status, o.ErrorCategory, o.ErrorSide = models.RunFailed, string(connectors.CategoryConfiguration), models.RunSideData
		o.ErrorMessage = allWithheldMessage(c.Queried, codes)
	case c.SourceIssues > 0 || c.Rejected > 0:
		o.Status = models.RunWarnings
	default:
		o.Status = models.RunSucceeded
	}
	return o
}

// ended is where every run ends, whether a worker finished it or the reaper found it
// interrupted: it applies what the stored outcome does to the activation and its
// platform (health, a broken platform, the source-issue threshold). act is nil when the
// activation is not at hand. Automatic pauses and alerts hang here.
func (s *Runner) ended(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	health := models.HealthHealthy
	switch o.Status {
	case models.RunFailed, models.RunInterrupted:
		health = models.HealthFailed
	case models.RunWarnings:
		health = models.HealthWarning
	case models.RunCancelled, models.RunSkipped:
		return // says nothing about the activation's health
	}
	if err := s.store.SetActivationHealth(ctx, run.WorkspaceID, run.ActivationID, run.ID, health); err != nil {
		s.log.Error("set activation health", slog.Any("error", err))
	}
	s.core.RunEnded(ctx, run, act, o) // opens or resolves the run's incident, with its alerts
	if act == nil {
		return
	}
	s.blame(ctx, run, act, o)
	s.flagDuplicates(ctx, run, act, o)
	threshold := act.Settings().SourceIssueThreshold
	if threshold > 0 && o.Counts.Queried > 0 {
		share := 100 * float64(o.Counts.SourceIssues) / float64(o.Counts.Queried)
		if share > threshold {
			reason := fmt.Sprintf("paused automatically: %.1f%% of rows had source issues in the last run (threshold %.1f%%). Fix the data: Sluice resumes it once a check finds the share under the threshold.", share, threshold)
			if _, err := s.core.PauseAutomatically(ctx, run.WorkspaceID, act.ID, models.PauseCauseThreshold, reason); err != nil {
				s.log.Error("pause activation", slog.Any("error", err))
			}
		}
	}
	s.recordWarnings(ctx, run, act, o)
}

// blame applies a failed run's error to the end it came from: bad credentials at the
// destination break the platform; a source that refused the run (a revoked grant, an
// unreachable warehouse) is validated again, which records it broken with the check
// that failed and the statement to run; a query the warehouse rejected (a column
// renamed, a table gone) validates the model at once, so its page shows the issue
// before anyone asks. Errors of the source never mark the platform broken.
func (s *Runner) blame(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	if o.Status != models.RunFailed {
		return
	}
	cat := connectors.Category(o.ErrorCategory)
	switch o.ErrorSide {
	case models.RunSideDestination:
		if cat != connectors.CategoryCredentials {
			return
		}
		p, err := s.store.PlatformByID(ctx, run.WorkspaceID, act.PlatformID)
		if err != nil || p.Status == models.PlatformBroken {
			return
		}
		if _, err := s.core.PlatformBroken(ctx, p, o.ErrorMessage); err != nil {
			s.log.Error("mark platform broken", slog.Any("error", err))
		}
	case models.RunSideSource:
		m, err := s.modelOf(ctx, run.WorkspaceID, act.SegmentID)
		if err != nil {
			s.log.Error("find the run's model", slog.Any("error", err))
			return
		}
		switch cat {
		case connectors.CategoryCredentials, connectors.CategoryConnection:
			src, err := s.store.SourceByID(ctx, run.WorkspaceID, m.SourceID)
			if err != nil || src.Status == models.SourceBroken {
				return // the preflight has just validated it
			}
			if _, err := s.core.ValidateSource(ctx, run.WorkspaceID, m.SourceID); err != nil {
				s.log.Error("validate the run's source", slog.Any("error", err))
			}
		case connectors.CategoryConfiguration, connectors.CategoryNotFound:
			if m.Status == models.ModelBroken {
				return
			}
			if _, err := s.core.ValidateModel(ctx, run.WorkspaceID, m.ID); err != nil {
				s.log.Error("validate the run's model", slog.Any("error", err))
			}
		}
	}
}

// modelOf is the model a segment reads.
func (s *Runner) modelOf(ctx context.Context, workspaceID, segmentID string) (*models.DataModel, error) {
	seg, err := s.store.SegmentByID(ctx, workspaceID, segmentID)
	if err != nil {
		return nil, err
	}
	return s.store.ModelByID(ctx, workspaceID, seg.ModelID)
}

// allWithheldMessage says why a run delivered nothing: every row it read was withheld,
// and the commonest reasons, in plain words.
func allWithheldMessage(queried int64, codes map[string]int64) string {
	names := map[string]string{
		engine.CodeDuplicateKey: "a primary key shared with another row", engine.CodeMissingKey: "an empty primary key",
		engine.CodeInvalidEmail: "an empty or invalid e-mail", engine.CodeInvalidPhone: "an empty or invalid phone number",
		engine.CodeMissingRequired: "a required field left empty", engine.CodeWrongType: "a value of the wrong type",
	}
	type reason struct {
		code string
		n    int64
	}
	var reasons []reason
	for code, n := range codes {
		reasons = append(reasons, reason{code, n})
	}
	sort.Slice(reasons, func(i, j int) bool {
		if reasons[i].n != reasons[j].n {
			return reasons[i].n > reasons[j].n
		}
		return reasons[i].code < reasons[j].code
	})
	var parts []string
	for _, r := range reasons {
		name := names[r.code]
		if name == "" {
			name = strings.ReplaceAll(r.code, "_", " ")
		}
		parts = append(parts, fmt.Sprintf("%d with %s", r.n, name))
	}
	rows := "row"
	if queried != 1 {
		rows = "rows"
	}
	msg := fmt.Sprintf("Nothing was sent: all %d %s the segment returned were withheld as source issues", queried, rows)
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, ", ") + ")"
	}
	return msg + ". Fix the data or the model, or map other columns, then run again."
}

// prepare is the preflight of a run: the activation is active, then buildJob.
func (s *Runner) prepare(ctx context.Context, run *models.Run, rec *recorder) (*engine.Job, *models.Activation, func(), error) {
	act, err := s.store.ActivationByID(ctx, run.WorkspaceID, run.ActivationID)
	if err != nil {
		return nil, nil, func() {}, err
	}
	if act.Status == models.ActivationPaused {
		return nil, act, func() {}, &preflightError{skip: true, category: connectors.CategoryConfiguration, side: models.RunSideActivation, message: "The activation is paused: " + act.PauseReason}
	}
	job, closeAll, err := s.buildJob(ctx, jobInput{
		workspaceID: run.WorkspaceID, runID: run.ID, activationID: act.ID,
		segmentID: act.SegmentID, platformID: act.PlatformID, action: act.Action,
		mappings: act.Mappings(), settings: act.Settings(), fullResync: run.FullResync,
	})
	return job, act, closeAll, err
}

// jobInput is what a job is built from: a saved activation and its run, or a draft
// being previewed (no run, no activation id).
type jobInput struct {
	workspaceID, runID, activationID string
	segmentID, platformID, action    string
	mappings                         []models.Mapping
	settings                         models.ActivationSettings
	fullResync                       bool
}

// buildJob is the rest of the preflight — the source connected, the model valid and
// holding every mapped column, the platform connected — then it opens both ends and
// builds the engine's job. Runs and previews share it, so a preview reads and checks
// exactly what the run will. closeAll closes what was opened, whatever the error.
func (s *Runner) buildJob(ctx context.Context, in jobInput) (*engine.Job, func(), error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	ws := in.workspaceID
	seg, err := s.store.SegmentByID(ctx, ws, in.segmentID)
	if err != nil {
		return nil, closeAll, err
	}
	m, err := s.store.ModelByID(ctx, ws, seg.ModelID)
	if err != nil {
		return nil, closeAll, err
	}
	src, err := s.store.SourceByID(ctx, ws, m.SourceID)
	if err != nil {
		return nil, closeAll, err
	}
	if src.Status == models.SourceBroken {
		// Check again before giving up: the warehouse may be back since it was found
		// broken, and nobody should have to press "Validate now" for runs to resume.
		if src, err = s.core.ValidateSource(ctx, ws, src.ID); err != nil {
			return nil, closeAll, err
		}
	}
	if src.Status == models.SourceBroken {
		msg := "The source " + src.Name + " is broken"
		cat := connectors.CategoryConnection
		if f := src.FailedCheck(); f != nil {
			msg += ": " + f.Message
			if f.Stage == connectors.StageAccess || f.Stage == connectors.StageGrants {
				cat = connectors.CategoryCredentials
			}
		}
		return nil, closeAll, &preflightError{category: cat, side: models.RunSideSource, message: msg}
	}
	if m.Status == models.ModelBroken {
		return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, side: models.RunSideSource, message: "The model " + m.Name + " has schema issues: fix or remap its columns."}
	}
	for _, mp := range in.mappings {
		if _, ok := m.Column(mp.From); !ok {
			return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, side: models.RunSideActivation, message: fmt.Sprintf("Column %s of the mapping is not in the model %s.", mp.From, m.Name)}
		}
	}
	p, err := s.store.PlatformByID(ctx, ws, in.platformID)
	if err != nil {
		return nil, closeAll, err
	}
	if p.Status == models.PlatformBroken {
		return nil, closeAll, &preflightError{category: connectors.CategoryCredentials, side: models.RunSideDestination, message: "The platform " + p.Name + " is broken: re-authorize it. " + p.StatusMessage}
	}
	cond, err := segments.Parse(seg.ConditionsJSON)
	if err != nil {
		return nil, closeAll, err
	}
	conn, err := s.core.OpenSource(ctx, src)
	if err != nil {
		return nil, closeAll, &preflightError{category: connectors.CategoryConnection, side: models.RunSideSource,
			message: "Cannot open the source " + src.Name + ": " + connectors.UserMessage(err, "its settings could not be read."), detail: err.Error()}
	}
	closers = append(closers, func() { conn.Close() })
	dest, spec, err := s.core.OpenPlatform(ctx, p)
	if err != nil {
		cat := connectors.CategoryConfiguration
		if ce, ok := connectors.AsError(err); ok {
			cat = ce.Category
		}
		return nil, closeAll, &preflightError{category: cat, side: models.RunSideDestination,
			message: "Cannot open the platform " + p.Name + ": " + connectors.UserMessage(err, "its settings could not be read."), detail: err.Error()}
	}
	closers = append(closers, func() { dest.Close() })
	action, ok := connectors.ActionOf(spec, dest, in.action)
	if !ok {
		return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, side: models.RunSideActivation, message: "The platform has no action " + in.action + "."}
	}
	// Saved before the platform's action gained a required setting, or changed since:
	// refused here rather than by the platform, batch after batch.
	actionSettings, err := models.CheckActionSettings(action.Settings, in.settings.Action, action.Label+" on "+p.Name)
	if fe := (*models.FieldError)(nil); errors.As(err, &fe) {
		return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, side: models.RunSideActivation,
			message: fe.Message + " Edit the activation's settings."}
	} else if err != nil {
		return nil, closeAll, err
	}
	job := &engine.Job{
		RunID: in.runID, ActivationID: in.activationID,
		Source: conn, Relation: m.Relation(), Columns: m.Columns(), PrimaryKey: m.PrimaryKey, Condition: cond,
		Destination: dest, Action: action,
		Settings: engine.Settings{DefaultRegion: in.settings.DefaultPhoneRegion, SendRemovals: in.settings.SendRemovals, FullResync: in.fullResync,
			Action: actionSettings},
		Limiter:    s.limiter(p.ID, spec, dest),
		SourceName: src.Name, DestinationName: p.Name,
	}
	for _, mp := range in.mappings {
		job.Mappings = append(job.Mappings, engine.Mapping{From: mp.From, To: mp.To, Kind: connectors.FieldKind(mp.Type)})
	}
	return job, closeAll, nil
}
