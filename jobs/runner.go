package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"sluice/connectors"
	"sluice/engine"
	"sluice/models"
	"sluice/segments"
)

// preflightError is a run that cannot start, with its category and where to fix it.
type preflightError struct {
	category connectors.Category
	message  string
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
		outcome = models.RunOutcome{Status: models.RunFailed, ErrorCategory: string(pf.category), ErrorMessage: pf.message, ErrorDetail: pf.detail}
	case err != nil:
		log.Error("prepare run", slog.Any("error", err))
		outcome = models.RunOutcome{Status: models.RunFailed, ErrorCategory: string(connectors.CategoryConnection),
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
		outcome = outcomeOf(res)
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
	if err := s.store.FinishRun(ctx, run.ID, s.owner, o); err != nil {
		log.Error("finish run", slog.Any("error", err))
		return
	}
	s.ended(ctx, run, act, o)
}

func outcomeOf(res engine.Result) models.RunOutcome {
	c := res.Counts
	o := models.RunOutcome{Counts: models.RunCounts{Queried: c.Queried, Added: c.Added, Changed: c.Changed, Removed: c.Removed,
		Unchanged: c.Unchanged, Sent: c.Sent, Rejected: c.Rejected, Unsent: c.Unsent, SourceIssues: c.SourceIssues}}
	switch {
	case res.Err != nil:
		o.Status, o.ErrorCategory, o.ErrorMessage, o.ErrorDetail = models.RunFailed, string(res.Err.Category), res.Err.Message, connectors.MaskURLs(res.Err.Detail)
		switch {
		case errors.Is(res.Err, models.ErrCancelled):
			o.Status = models.RunCancelled
		case errors.Is(res.Err, context.Canceled):
			// This instance is shutting down: the run stopped between batches.
			o.Status, o.ErrorMessage = models.RunInterrupted, "Sluice stopped during the run. The next run sends every record not yet acknowledged."
		}
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
	if act == nil {
		return
	}
	if o.ErrorCategory == string(connectors.CategoryCredentials) {
		if p, err := s.store.PlatformByID(ctx, run.WorkspaceID, act.PlatformID); err == nil {
			if _, err := s.core.PlatformBroken(ctx, p, o.ErrorMessage); err != nil {
				s.log.Error("mark platform broken", slog.Any("error", err))
			}
		}
	}
	threshold := act.Settings().SourceIssueThreshold
	if threshold > 0 && o.Counts.Queried > 0 {
		share := 100 * float64(o.Counts.SourceIssues) / float64(o.Counts.Queried)
		if share > threshold {
			reason := fmt.Sprintf("paused automatically: %.1f%% of rows had source issues in the last run (threshold %.1f%%). Fix the data, then resume.", share, threshold)
			if _, err := s.core.PauseAutomatically(ctx, run.WorkspaceID, act.ID, models.PauseCauseThreshold, reason); err != nil {
				s.log.Error("pause activation", slog.Any("error", err))
			}
		}
	}
}

// prepare is the preflight of a run: the activation is active, then buildJob.
func (s *Runner) prepare(ctx context.Context, run *models.Run, rec *recorder) (*engine.Job, *models.Activation, func(), error) {
	act, err := s.store.ActivationByID(ctx, run.WorkspaceID, run.ActivationID)
	if err != nil {
		return nil, nil, func() {}, err
	}
	if act.Status == models.ActivationPaused {
		return nil, act, func() {}, &preflightError{skip: true, category: connectors.CategoryConfiguration, message: "The activation is paused: " + act.PauseReason}
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
		msg := "The source " + src.Name + " is broken"
		if f := src.FailedCheck(); f != nil {
			msg += ": " + f.Message
		}
		return nil, closeAll, &preflightError{category: connectors.CategoryConnection, message: msg}
	}
	if m.Status == models.ModelBroken {
		return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, message: "The model " + m.Name + " has schema issues: fix or remap its columns."}
	}
	for _, mp := range in.mappings {
		if _, ok := m.Column(mp.From); !ok {
			return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, message: fmt.Sprintf("Column %s of the mapping is not in the model %s.", mp.From, m.Name)}
		}
	}
	p, err := s.store.PlatformByID(ctx, ws, in.platformID)
	if err != nil {
		return nil, closeAll, err
	}
	if p.Status == models.PlatformBroken {
		return nil, closeAll, &preflightError{category: connectors.CategoryCredentials, message: "The platform " + p.Name + " is broken: re-authorize it. " + p.StatusMessage}
	}
	cond, err := segments.Parse(seg.ConditionsJSON)
	if err != nil {
		return nil, closeAll, err
	}
	conn, err := s.core.OpenSource(ctx, src)
	if err != nil {
		return nil, closeAll, &preflightError{category: connectors.CategoryConnection,
			message: "Cannot open the source " + src.Name + ": " + connectors.UserMessage(err, "its settings could not be read."), detail: err.Error()}
	}
	closers = append(closers, func() { conn.Close() })
	dest, spec, err := s.core.OpenPlatform(ctx, p)
	if err != nil {
		cat := connectors.CategoryConfiguration
		if ce, ok := connectors.AsError(err); ok {
			cat = ce.Category
		}
		return nil, closeAll, &preflightError{category: cat,
			message: "Cannot open the platform " + p.Name + ": " + connectors.UserMessage(err, "its settings could not be read."), detail: err.Error()}
	}
	closers = append(closers, func() { dest.Close() })
	action, ok := connectors.ActionOf(spec, dest, in.action)
	if !ok {
		return nil, closeAll, &preflightError{category: connectors.CategoryConfiguration, message: "The platform has no action " + in.action + "."}
	}
	job := &engine.Job{
		RunID: in.runID, ActivationID: in.activationID,
		Source: conn, Relation: m.Relation(), Columns: m.Columns(), PrimaryKey: m.PrimaryKey, Condition: cond,
		Destination: dest, Action: action,
		Settings: engine.Settings{DefaultRegion: in.settings.DefaultPhoneRegion, SendRemovals: in.settings.SendRemovals, FullResync: in.fullResync},
		Limiter:  s.limiter(p.ID, spec, dest),
	}
	for _, mp := range in.mappings {
		job.Mappings = append(job.Mappings, engine.Mapping{From: mp.From, To: mp.To, Kind: connectors.FieldKind(mp.Type)})
	}
	return job, closeAll, nil
}
