package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"sluice/connectors"
	"sluice/core"
	"sluice/destinations/sandbox"
	"sluice/jobs"
	"sluice/models"
	"sluice/sources/sqlite"
)

// Runs queues a run of an activation: the runner (jobs.Runner), whose workers execute it.
type Runs interface {
	RunNow(ctx context.Context, workspaceID, activationID, trigger string, fullResync bool) (*models.Run, error)
}

// The demo story's platforms: all three are Sandbox inboxes inside Sluice, so the story
// needs nothing outside.
const (
	PlatformCRM   = "Sandbox CRM"
	PlatformAds   = "Sandbox Ads"
	PlatformOAuth = "Sandbox CRM (OAuth)"
)

// The demo story's activations, one per state it shows.
const (
	ActivationHealthy   = "French VIPs to the CRM"
	ActivationIssues    = "High-value French customers to the CRM"
	ActivationRejected  = "Win-back: not seen for 60 days"
	ActivationRateLimit = "French VIPs to Sandbox Ads"
	ActivationMobiles   = "Gold members' mobiles to the CRM"
	ActivationPoints    = "Gold members' points to the CRM"
	ActivationOAuth     = "Newsletter readers to the OAuth CRM"
)

// RenamedColumn is the warehouse column the story renames after the loyalty activations'
// first good runs, as a warehouse migration would: mobile becomes mobile_number, and the
// two activations mapping it pause until the column is remapped.
const (
	RenamedColumn = "mobile"
	RenamedTo     = "mobile_number"
)

// HistoryDays is how far back the demo's run history goes.
const HistoryDays = 14

// storyActivation is one activation of the story.
type storyActivation struct {
	name, segment, platform string
	mappings                []models.Mapping
}

var storyActivations = []storyActivation{
	{ActivationHealthy, "French VIP customers", PlatformCRM, []models.Mapping{
		{From: "first_name", To: "first_name", Type: "string"}, {From: "country", To: "country", Type: "string"},
		{From: "lifetime_value", To: "lifetime_value", Type: "number"}}},
	// Some phones in the warehouse are not valid: Sluice withholds those rows.
	{ActivationIssues, "French customers, lifetime value over 500", PlatformCRM, []models.Mapping{
		{From: "phone", To: "phone", Type: "phone"}, {From: "first_name", To: "first_name", Type: "string"},
		{From: "lifetime_value", To: "lifetime_value", Type: "number"}}},
	// The e-mail is sent as plain text, unchecked: the CRM refuses the invalid ones (and
	// those with an accent, which it does not take).
	{ActivationRejected, "Not seen for 60 days", PlatformCRM, []models.Mapping{
		{From: "email", To: "email", Type: "string"}, {From: "first_name", To: "first_name", Type: "string"}}},
	{ActivationMobiles, "Gold and platinum members", PlatformCRM, []models.Mapping{
		{From: "email", To: "email", Type: "email"}, {From: RenamedColumn, To: "mobile", Type: "phone"}}},
	{ActivationPoints, "Gold and platinum members", PlatformCRM, []models.Mapping{
		{From: "email", To: "email", Type: "email"}, {From: RenamedColumn, To: "mobile", Type: "phone"}, {From: "points", To: "points", Type: "number"}}},
	{ActivationOAuth, "Newsletter readers", PlatformOAuth, []models.Mapping{{From: "email", To: "email", Type: "email"}}},
	// Last, right after its platform's check: the check is the minute's one request.
	{ActivationRateLimit, "French VIP customers", PlatformAds, []models.Mapping{
		{From: "first_name", To: "first_name", Type: "string"}, {From: "country", To: "country", Type: "string"}}},
}

// PrepareStory records that the demo's story is to be made (the banner says so until it
// is), when the demo was just seeded or its story stopped part way; it answers whether
// Story should run.
func PrepareStory(ctx context.Context, store *models.Store, seeded bool) (bool, error) {
	ws, err := store.WorkspaceByID(ctx, actor.WorkspaceID)
	if err != nil {
		return false, err
	}
	if !ws.HoldsDemo() || (!seeded && !ws.PreparingDemo() && !ws.DemoStopped()) {
		return false, nil
	}
	return true, store.SetDemoStory(ctx, actor.WorkspaceID, models.DemoStoryPreparing)
}

// SkipStory records, when the story is switched off, that one begun before stopped part
// way: the banner then says so rather than that it is being prepared.
func SkipStory(ctx context.Context, store *models.Store) error {
	ws, err := store.WorkspaceByID(ctx, actor.WorkspaceID)
	if err != nil || !ws.PreparingDemo() {
		return err
	}
	return store.SetDemoStory(ctx, actor.WorkspaceID, models.DemoStoryStopped)
}

// Story makes the demo's platforms and activations and runs them for real through the
// runner, so that every state shows: healthy, source issues, a destination rejection,
// a rate-limit failure, two activations paused after a column was renamed, and a
// platform whose grant was revoked waiting for Re-authorize; then it writes the two
// weeks of runs before them. Sluice must be listening at its base URL (the Sandbox
// platforms are checked there). Each step looks first at what is already made, so a
// start after one that stopped part way carries on. It records the story ready, or
// stopped when it fails.
func Story(ctx context.Context, store *models.Store, wh *core.Service, runs Runs, dataDir string) (err error) {
	defer func() {
		state := models.DemoStoryReady
		if err != nil {
			state = models.DemoStoryStopped
		}
		if serr := store.SetDemoStory(context.WithoutCancel(ctx), actor.WorkspaceID, state); err == nil {
			err = serr
		}
	}()
	s := &seeding{ctx: ctx, store: store, wh: wh}
	st, err := s.loadStory()
	if err != nil {
		return err
	}
	if err := st.platform(PlatformCRM, sandbox.Kind, connectors.Config{sandbox.FieldBatchSize: "100"}); err != nil {
		return err
	}
	if err := st.platform(PlatformOAuth, sandbox.KindOAuth, connectors.Config{sandbox.FieldBatchSize: "100"}); err != nil {
		return err
	}
	first := map[string]*models.Run{}
	// The first runs, all good but for the data's own flaws.
	for _, sa := range storyActivations {
		if sa.platform == PlatformAds {
			continue
		}
		if err := st.activation(sa); err != nil {
			return err
		}
	}
	for _, sa := range storyActivations {
		if sa.platform == PlatformAds {
			continue
		}
		if first[sa.name], err = st.firstRun(runs, sa.name); err != nil {
			return err
		}
	}
	// A warehouse migration renames the loyalty members' mobile column; the nightly
	// validation finds it and pauses the two activations that map it.
	if err := renameColumn(ctx, filepath.Join(sqlite.Dir(dataDir), WarehouseFile)); err != nil {
		return err
	}
	if _, err := wh.ValidateModel(ctx, actor.WorkspaceID, st.models["Loyalty members"]); err != nil {
		return fmt.Errorf("validate the loyalty model: %w", err)
	}
	// The OAuth CRM's grant is revoked at its authorization server, as when someone
	// removes an app's access: the next run fails on credentials, the platform breaks.
	if err := st.revokeAndRun(runs); err != nil {
		return err
	}
	// The ads platform takes one request a minute: its check was this minute's, so the
	// run's first batch is answered 429 with a Retry-After longer than Sluice waits
	// within a run, and the run fails with the rate-limit category.
	if err := st.platform(PlatformAds, sandbox.Kind, connectors.Config{sandbox.FieldBatchSize: "20", sandbox.FieldMaxRequests: "1"}); err != nil {
		return err
	}
	ads := storyActivations[len(storyActivations)-1]
	if err := st.activation(ads); err != nil {
		return err
	}
	if first[ads.name], err = st.firstRun(runs, ads.name); err != nil {
		return err
	}
	return st.history(first)
}

// story is what the story has made so far, by name.
type story struct {
	*seeding
	models, segments, platforms, activations map[string]string
}

func (s *seeding) loadStory() (*story, error) {
	st := &story{seeding: s, models: map[string]string{}, segments: map[string]string{}, platforms: map[string]string{}, activations: map[string]string{}}
	objs, err := s.store.DemoObjects(s.ctx, actor.WorkspaceID)
	if err != nil {
		return nil, err
	}
	ids := func(kind string) []string { return objs[kind] }
	dms, err := s.store.ListModels(s.ctx, actor.WorkspaceID, "")
	if err != nil {
		return nil, err
	}
	for _, m := range dms {
		if slices.Contains(ids(models.DemoModel), m.ID) {
			st.models[m.Name] = m.ID
		}
	}
	segs, err := s.store.ListSegments(s.ctx, actor.WorkspaceID, "")
	if err != nil {
		return nil, err
	}
	for _, g := range segs {
		if slices.Contains(ids(models.DemoSegment), g.ID) {
			st.segments[g.Name] = g.ID
		}
	}
	ps, err := s.store.ListPlatforms(s.ctx, actor.WorkspaceID)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if slices.Contains(ids(models.DemoPlatform), p.ID) {
			st.platforms[p.Name] = p.ID
		}
	}
	acts, err := s.store.ListActivations(s.ctx, actor.WorkspaceID, models.ActivationFilter{})
	if err != nil {
		return nil, err
	}
	for _, a := range acts {
		if slices.Contains(ids(models.DemoActivation), a.ID) {
			st.activations[a.Name] = a.ID
		}
	}
	if st.models["Loyalty members"] == "" {
		return nil, errors.New("the demo's Loyalty members model is gone: the story needs it")
	}
	return st, nil
}

// platform makes a Sandbox platform unless the story has it.
func (st *story) platform(name, kind string, cfg connectors.Config) error {
	if st.platforms[name] != "" {
		return nil
	}
	var p *models.Platform
	var err error
	if kind == sandbox.KindOAuth {
		// As if the demo's admin had allowed it on the built-in consent page.
		p, err = st.wh.ConnectSandboxOAuth(st.ctx, actor, name, cfg)
	} else {
		p, err = st.wh.CreatePlatform(st.ctx, actor, kind, models.PlatformInput{Name: name, Config: cfg})
	}
	if err != nil {
		return fmt.Errorf("platform %s: %w", name, err)
	}
	if err := st.mark(models.DemoPlatform, p.ID); err != nil {
		return err
	}
	if p.Status != models.PlatformConnected {
		return fmt.Errorf("platform %s is %s: %s", name, p.Status, p.StatusMessage)
	}
	st.platforms[name] = p.ID
	return nil
}

// activation makes an activation unless the story has it: daily at 06:00 UTC.
func (st *story) activation(sa storyActivation) error {
	if st.activations[sa.name] != "" {
		return nil
	}
	seg, p := st.segments[sa.segment], st.platforms[sa.platform]
	if seg == "" || p == "" {
		return fmt.Errorf("activation %s: the demo's segment %q or platform %q is gone", sa.name, sa.segment, sa.platform)
	}
	a, err := st.wh.CreateActivation(st.ctx, actor, models.ActivationInput{Name: sa.name, SegmentID: seg, PlatformID: p,
		Action: "sync_records", Mappings: sa.mappings, Schedule: models.Schedule{Kind: "daily", At: "06:00", Timezone: "UTC"},
		Settings: models.ActivationSettings{DefaultPhoneRegion: "FR", SendRemovals: true}})
	if err != nil {
		return fmt.Errorf("activation %s: %w", sa.name, err)
	}
	if err := st.mark(models.DemoActivation, a.ID); err != nil {
		return err
	}
	st.activations[sa.name] = a.ID
	return nil
}

// firstRun is the activation's first run: queued now, or the one already made (waited
// for if it is still going).
func (st *story) firstRun(runs Runs, name string) (*models.Run, error) {
	id := st.activations[name]
	past, err := st.store.ListRuns(st.ctx, actor.WorkspaceID, id, 1000)
	if err != nil {
		return nil, err
	}
	for i := len(past) - 1; i >= 0; i-- {
		if past[i].Trigger != models.TriggerSchedule {
			return st.wait(&past[i])
		}
	}
	return st.run(runs, name, false)
}

// run queues a run of the activation and waits for its end.
func (st *story) run(runs Runs, name string, full bool) (*models.Run, error) {
	r, err := runs.RunNow(st.ctx, actor.WorkspaceID, st.activations[name], models.TriggerManual, full)
	var busy *jobs.BusyError
	if errors.As(err, &busy) {
		r, err = busy.Run, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	return st.wait(r)
}

// wait polls the run until it ends.
func (st *story) wait(r *models.Run) (*models.Run, error) {
	for {
		got, err := st.store.RunByID(st.ctx, actor.WorkspaceID, r.ID)
		if err != nil {
			return nil, err
		}
		if got.FinishedAt != nil {
			return got, nil
		}
		select {
		case <-st.ctx.Done():
			return nil, st.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// revokeAndRun revokes the OAuth CRM's grant and runs its activation, unless that second
// run was made.
func (st *story) revokeAndRun(runs Runs) error {
	id := st.activations[ActivationOAuth]
	past, err := st.store.ListRuns(st.ctx, actor.WorkspaceID, id, 1000)
	if err != nil {
		return err
	}
	real := 0
	for i := range past {
		if past[i].Trigger != models.TriggerSchedule {
			real++
			if real == 2 {
				_, err := st.wait(&past[i])
				return err
			}
		}
	}
	if err := st.wh.RevokeSandboxGrant(st.ctx, actor.WorkspaceID, st.platforms[PlatformOAuth]); err != nil && !models.IsNotFound(err) {
		return fmt.Errorf("revoke the grant of %s: %w", PlatformOAuth, err)
	}
	// A full resync, so that the run sends: a delta run with nothing changed would not.
	_, err = st.run(runs, ActivationOAuth, true)
	return err
}

// renameColumn renames the loyalty members' mobile column in the demo warehouse, unless
// it was.
func renameColumn(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('loyalty_members') WHERE name = ?`, RenamedColumn).Scan(&n); err != nil {
		return fmt.Errorf("demo: read the warehouse: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE loyalty_members RENAME COLUMN `+RenamedColumn+` TO `+RenamedTo); err != nil {
		return fmt.Errorf("demo: rename the warehouse's %s column: %w", RenamedColumn, err)
	}
	return nil
}

// history writes each activation's daily runs of the two weeks before its first real
// one, shaped on it (the rows it queried, its source issues, its rejections): a first
// full run, then small daily changes. The ads platform's limit was lowered two days
// ago: its last two daily runs failed as its real one did. An activation that has its
// history already is left alone.
func (st *story) history(first map[string]*models.Run) error {
	var out []models.Run
	// The last daily tick is today's when 06:00 UTC has passed: the scheduler then finds
	// it done and does not catch it up.
	last := time.Now().UTC().Truncate(24 * time.Hour).Add(6 * time.Hour)
	if last.After(time.Now()) {
		last = last.AddDate(0, 0, -1)
	}
	for n, sa := range storyActivations {
		id, r0 := st.activations[sa.name], first[sa.name]
		past, err := st.store.ListRuns(st.ctx, actor.WorkspaceID, id, 1000)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(past, func(r models.Run) bool { return r.Trigger == models.TriggerSchedule }) {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(n), 14))
		q, issues, rejected := r0.Queried, r0.SourceIssues, r0.Rejected
		if sa.name == ActivationRateLimit {
			// Its real run stopped reading at the refusal; the healthy activation reads
			// the same segment whole.
			q = first[ActivationHealthy].Queried
		}
		for i := range HistoryDays {
			due := last.AddDate(0, 0, i+1-HistoryDays)
			c := models.RunCounts{Queried: q, SourceIssues: issues, Rejected: rejected}
			if i == 0 {
				c.Added = q - issues
			} else {
				// Rows refused yesterday are planned again, as additions.
				c.Added = min(q-issues, rejected+r.Int64N(q/100+2))
				c.Changed = min(q-issues-c.Added, r.Int64N(q/40+2))
				c.Removed = r.Int64N(3)
				c.Unchanged = q - issues - c.Added - c.Changed
			}
			planned := c.Added + c.Changed + c.Removed
			c.Rejected = min(c.Rejected, planned)
			c.Sent = planned - c.Rejected
			run := models.Run{WorkspaceID: actor.WorkspaceID, ActivationID: id, Trigger: models.TriggerSchedule, Stage: r0.Stage,
				Processed: q, RunCounts: c, Status: models.RunSucceeded, FullResync: i == 0}
			if c.SourceIssues > 0 || c.Rejected > 0 {
				run.Status = models.RunWarnings
			}
			if sa.name == ActivationRateLimit && i >= HistoryDays-2 {
				// The first batch was refused: it all waits for the next run.
				run.Status = models.RunFailed
				run.ErrorCategory, run.ErrorSide, run.ErrorMessage, run.ErrorDetail = r0.ErrorCategory, r0.ErrorSide, r0.ErrorMessage, r0.ErrorDetail
				run.Sent, run.Rejected, run.Unsent = 0, 0, planned
			}
			started := due.Add(time.Duration(1+r.IntN(3)) * time.Second)
			finished := started.Add(time.Duration(1000+q*2+r.Int64N(800)) * time.Millisecond)
			run.ScheduledFor, run.CreatedAt, run.StartedAt, run.FinishedAt = &due, due, &started, &finished
			if run.Status == models.RunFailed {
				run.AlertedAt = &finished
			}
			out = append(out, run)
		}
	}
	return st.store.AddRunHistory(st.ctx, actor.WorkspaceID, out)
}
