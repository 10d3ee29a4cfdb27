package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"sluice/connectors"
)

// Activation statuses and healths (API.md).
const (
	ActivationActive = "active"
	ActivationPaused = "paused"

	HealthNeverRun = "never_run"
	HealthHealthy  = "healthy"
	HealthWarning  = "warning"
	HealthFailed   = "failed"
)

// Mapping sends one model column to one destination field (API.md: {from, to, type}).
type Mapping struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
}

// Schedule says when an activation runs (API.md "Schedules").
type Schedule struct {
	Kind     string `json:"kind"`
	Every    string `json:"every,omitempty"`
	At       string `json:"at,omitempty"`
	Weekday  string `json:"weekday,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	Expr     string `json:"expr,omitempty"`
}

// ActivationSettings are the run options of an activation.
type ActivationSettings struct {
	// DefaultPhoneRegion reads phone numbers written without "+", e.g. "FR".
	DefaultPhoneRegion string `json:"default_phone_region,omitempty"`
	// SourceIssueThreshold pauses the activation automatically when a run's source issues
	// exceed this share of queried rows, in percent (0: never).
	SourceIssueThreshold float64 `json:"source_issue_threshold,omitempty"`
	SendRemovals         bool    `json:"send_removals"`
	// Action holds the activation's values of its action's settings
	// (connectors.Action.Settings: the list, audience or conversion action at the
	// platform), by setting name; every Batch of its runs carries them.
	Action map[string]string `json:"action,omitempty"`
}

// CheckActionSettings checks an activation's values of its action's settings against
// their specs and answers them normalized: trimmed, defaults filled in, empty values
// dropped. Every problem is a *FieldError on "action_settings.<name>" naming the
// setting: a name the action does not have, a required setting left empty, a value
// that is not one of a select's options or not a whole number. what names the action
// and its platform in the messages ("Add to list on Klaviyo").
func CheckActionSettings(specs []connectors.FieldSpec, values map[string]string, what string) (map[string]string, error) {
	known := map[string]bool{}
	for _, f := range specs {
		known[f.Name] = true
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !known[name] {
			return nil, &FieldError{Field: ActionSettingField(name), Message: fmt.Sprintf("%s has no setting %q: leave it out.", what, name)}
		}
	}
	out := map[string]string{}
	for _, f := range specs {
		v := strings.TrimSpace(values[f.Name])
		if v == "" {
			v = f.Default
		}
		label := f.Label
		if label == "" {
			label = f.Name
		}
		switch {
		case v == "" && f.Required:
			return nil, &FieldError{Field: ActionSettingField(f.Name), Message: fmt.Sprintf("%s is required: choose one for %s.", label, what)}
		case v == "":
			continue
		case f.Type == connectors.FieldSelect && len(f.Options) > 0 && !slices.Contains(f.Options, v):
			return nil, &FieldError{Field: ActionSettingField(f.Name), Message: fmt.Sprintf("%s must be one of %s.", label, strings.Join(f.Options, ", "))}
		case f.Type == connectors.FieldInt:
			if n, err := strconv.Atoi(v); err != nil || strconv.Itoa(n) != v {
				return nil, &FieldError{Field: ActionSettingField(f.Name), Message: fmt.Sprintf("%s must be a whole number.", label)}
			}
		}
		out[f.Name] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ActionSettingField is the input name of an action setting in field errors and in the
// JSON API: "action_settings.list_id".
func ActionSettingField(name string) string { return "action_settings." + name }

// Activation sends one segment to one platform with one action.
type Activation struct {
	ID             string
	WorkspaceID    string
	Name           string
	SegmentID      string
	PlatformID     string
	Action         string
	MappingsJSON   string
	ScheduleJSON   string
	SettingsJSON   string
	Status         string
	PauseAutomatic bool
	PauseCause     string
	PauseReason    string
	PausedAt       *time.Time
	Health         string
	LastRunID      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ActivationRef is what a run's page or answer needs of its activation: its name and
// the segment and platform the fix of an error may point at.
type ActivationRef struct {
	ID          string
	WorkspaceID string
	Name        string
	SegmentID   string
	PlatformID  string
}

// Ref is the activation as an ActivationRef.
func (a *Activation) Ref() ActivationRef {
	return ActivationRef{ID: a.ID, WorkspaceID: a.WorkspaceID, Name: a.Name, SegmentID: a.SegmentID, PlatformID: a.PlatformID}
}

// Mappings decodes the field mappings.
func (a *Activation) Mappings() []Mapping {
	return slices.Clone(decodedMappings.get(a.MappingsJSON, func(raw string) []Mapping {
		var m []Mapping
		_ = json.Unmarshal([]byte(raw), &m)
		return m
	}))
}

// Schedule decodes the schedule.
func (a *Activation) Schedule() Schedule {
	return decodedSchedules.get(a.ScheduleJSON, func(raw string) Schedule {
		var s Schedule
		_ = json.Unmarshal([]byte(raw), &s)
		if s.Kind == "" {
			s.Kind = "manual"
		}
		return s
	})
}

// Settings decodes the run options.
func (a *Activation) Settings() ActivationSettings {
	s := decodedSettings.get(a.SettingsJSON, func(raw string) ActivationSettings {
		var s ActivationSettings
		_ = json.Unmarshal([]byte(raw), &s)
		return s
	})
	s.Action = maps.Clone(s.Action)
	return s
}

// The JSON columns of activations, decoded once per distinct value: the lists show
// every row's schedule, and the API its mappings and settings.
var (
	decodedMappings  memo[string, []Mapping]
	decodedSchedules memo[string, Schedule]
	decodedSettings  memo[string, ActivationSettings]
)

type activationAudit struct {
	Name      string             `json:"name"`
	SegmentID string             `json:"segment_id"`
	Platform  string             `json:"platform_id"`
	Action    string             `json:"action"`
	Mappings  []Mapping          `json:"mappings"`
	Schedule  Schedule           `json:"schedule"`
	Settings  ActivationSettings `json:"settings"`
	Status    string             `json:"status"`
	Pause     string             `json:"pause_reason,omitempty"`
}

func (a *Activation) audit() activationAudit {
	return activationAudit{Name: a.Name, SegmentID: a.SegmentID, Platform: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: a.Schedule(), Settings: a.Settings(), Status: a.Status, Pause: a.PauseReason}
}

// ActivationInput is an activation as validated by the caller (the delivery service
// checks mappings against the model and the destination).
type ActivationInput struct {
	Name       string
	SegmentID  string
	PlatformID string
	Action     string
	Mappings   []Mapping
	Schedule   Schedule
	Settings   ActivationSettings
}

func (in ActivationInput) apply(a *Activation) error {
	name, err := validName(in.Name)
	if err != nil {
		return err
	}
	a.Name, a.SegmentID, a.PlatformID, a.Action = name, in.SegmentID, in.PlatformID, strings.TrimSpace(in.Action)
	for _, v := range []struct {
		ptr any
		dst *string
	}{{in.Mappings, &a.MappingsJSON}, {in.Schedule, &a.ScheduleJSON}, {in.Settings, &a.SettingsJSON}} {
		raw, err := json.Marshal(v.ptr)
		if err != nil {
			return err
		}
		*v.dst = string(raw)
	}
	return nil
}

// CreateActivation stores an activation, active and never run.
func (s *Store) CreateActivation(ctx context.Context, a Actor, in ActivationInput) (*Activation, error) {
	now := s.now()
	act := Activation{ID: newID(), WorkspaceID: a.WorkspaceID, Status: ActivationActive, Health: HealthNeverRun, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&act); err != nil {
		return nil, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := translate(tx.Create(&act).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another activation already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"activation.create", "activation", act.ID, act.Name, nil, act.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &act, nil
}

// UpdateActivation replaces an activation's definition.
func (s *Store) UpdateActivation(ctx context.Context, a Actor, id string, in ActivationInput) (*Activation, error) {
	var act Activation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&act).Error; err != nil {
			return translate(err)
		}
		before := act.audit()
		if err := in.apply(&act); err != nil {
			return err
		}
		act.UpdatedAt = s.now()
		if err := translate(tx.Save(&act).Error); err != nil {
			if errors.Is(err, ErrConflict) {
				return invalid("name", "Another activation already has this name.")
			}
			return err
		}
		return s.record(tx, a, change{"activation.update", "activation", act.ID, act.Name, before, act.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &act, nil
}

// ActivationByID loads an activation of a workspace.
func (s *Store) ActivationByID(ctx context.Context, workspaceID, id string) (*Activation, error) {
	return byID[Activation](ctx, s, workspaceID, id)
}

// ActivationParts are what an activation's page shows of the objects it uses: its
// segment's name and model, the model's source, its platform's name and kind; and
// whether the page has more to read: open validation issues on the source or the model
// (OpenIssuesByObject), an open incident on the activation (OpenIncidentOn), pauses or
// resumes to list (ActivationEvents).
type ActivationParts struct {
	SegmentName  string
	Model        SegmentModel
	PlatformName string
	PlatformKind string
	OpenIssues   bool
	OpenIncident bool
	HasEvents    bool
}

// ActivationWithParts loads an activation of a workspace with its parts, in one query.
func (s *Store) ActivationWithParts(ctx context.Context, workspaceID, id string) (*Activation, ActivationParts, error) {
	var (
		a     Activation
		p     ActivationParts
		found bool
	)
	q := s.db.WithContext(ctx).Table("activations").
		Select("activations."+strings.ReplaceAll(activationColumns, ", ", ", activations.")+", segments.name, data_models.id, data_models.source_id, "+
			"platforms.name, platforms.kind, "+
			"EXISTS (SELECT 1 FROM validation_issues v WHERE v.workspace_id = activations.workspace_id AND v.resolved_at IS NULL "+
			"AND v.object_id IN (data_models.source_id, data_models.id)), "+
			"EXISTS (SELECT 1 FROM incidents i WHERE i.workspace_id = activations.workspace_id AND i.object_type = ? "+
			"AND i.object_id = activations.id AND i.resolved_at IS NULL), "+
			"EXISTS (SELECT 1 FROM activation_events e WHERE e.workspace_id = activations.workspace_id AND e.activation_id = activations.id)",
			IncidentActivation).
		Joins("JOIN segments ON segments.id = activations.segment_id AND segments.workspace_id = activations.workspace_id").
		Joins("JOIN data_models ON data_models.id = segments.model_id AND data_models.workspace_id = activations.workspace_id").
		Joins("JOIN platforms ON platforms.id = activations.platform_id AND platforms.workspace_id = activations.workspace_id").
		Where("activations.workspace_id = ? AND activations.id = ?", workspaceID, id).Limit(1)
	err := s.eachRow(q, func(row rowScanner) error {
		found = true
		return row.Scan(append(activationFields(&a), &p.SegmentName, &p.Model.ModelID, &p.Model.SourceID, &p.PlatformName, &p.PlatformKind,
			&p.OpenIssues, &p.OpenIncident, &p.HasEvents)...)
	})
	switch {
	case err != nil:
		return nil, ActivationParts{}, err
	case !found:
		return nil, ActivationParts{}, ErrNotFound
	}
	return &a, p, nil
}

// ActivationFilter narrows the activations list: by the last run's health (healthy,
// warning, failed, never_run) or by status "paused".
type ActivationFilter struct {
	Status string
	Search string
	// After starts the list after the activation of this name (names are unique in a
	// workspace): a keyset page.
	After string
	// Limit is the most activations answered, 0 for all.
	Limit int
}

// ListActivations returns a workspace's activations by name, all of them or a keyset
// page (After, Limit).
// Rows are read without gorm's reflection, which cost more than the query on a page.
func (s *Store) ListActivations(ctx context.Context, workspaceID string, f ActivationFilter) ([]Activation, error) {
	var out []Activation
	err := s.eachRow(filterActivations(s.db.WithContext(ctx).Model(&Activation{}).Select(activationColumns), "activations", workspaceID, f).
		Order("name"), func(row rowScanner) error {
		var a Activation
		if err := row.Scan(activationFields(&a)...); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// ListActivationsWithLastRuns is ListActivations with the last run of each, by id, and
// the model of each one's segment, by segment id, read in the same query (the API's list
// shows the runs, and the fix of a failed one may lead to the model or its source); the
// columns only a run's own page shows (runShownColumns) are left empty.
func (s *Store) ListActivationsWithLastRuns(ctx context.Context, workspaceID string, f ActivationFilter) ([]Activation, map[string]*Run, map[string]SegmentModel, error) {
	q := s.db.WithContext(ctx).Table("activations AS a").
		Select("a." + strings.ReplaceAll(activationColumns, ", ", ", a.") + ", " + lastRunShownColumns + ", COALESCE(m.id, ''), COALESCE(m.source_id, '')").
		Joins("LEFT JOIN runs AS r ON r.id = a.last_run_id AND r.workspace_id = a.workspace_id").
		Joins("LEFT JOIN segments AS g ON g.id = a.segment_id AND g.workspace_id = a.workspace_id").
		Joins("LEFT JOIN data_models AS m ON m.id = g.model_id AND m.workspace_id = a.workspace_id")
	var acts []Activation
	var runs []*Run
	segModels := map[string]SegmentModel{}
	err := s.eachRow(filterActivations(q, "a", workspaceID, f).Order("a.name"), func(row rowScanner) error {
		var a Activation
		r := &Run{}
		// Without a run its created_at is null; SQLite would not read a COALESCE of it
		// as a time.
		var createdAt *time.Time
		fields := runShownFields(r)
		for i := range fields {
			if fields[i] == any(&r.CreatedAt) {
				fields[i] = &createdAt
			}
		}
		var m SegmentModel
		if err := row.Scan(append(append(activationFields(&a), fields...), &m.ModelID, &m.SourceID)...); err != nil {
			return err
		}
		acts = append(acts, a)
		if m.ModelID != "" {
			segModels[a.SegmentID] = m
		}
		if r.ID != "" && createdAt != nil {
			r.CreatedAt = *createdAt
			runs = append(runs, r)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	last := make(map[string]*Run, len(runs))
	for _, r := range runs {
		last[r.ID] = r
	}
	return acts, last, segModels, nil
}

// activationFields are where activationColumns are read into.
func activationFields(a *Activation) []any {
	return []any{&a.ID, &a.WorkspaceID, &a.Name, &a.SegmentID, &a.PlatformID, &a.Action, &a.MappingsJSON, &a.ScheduleJSON,
		&a.SettingsJSON, &a.Status, &a.PauseAutomatic, &a.PauseCause, &a.PauseReason, &a.PausedAt, &a.Health, &a.LastRunID,
		&a.CreatedAt, &a.UpdatedAt}
}

// activationColumns are every column of an activation, in ListActivations' order.
const activationColumns = "id, workspace_id, name, segment_id, platform_id, action, mappings_json, schedule_json, settings_json, " +
	"status, pause_automatic, pause_cause, pause_reason, paused_at, health, last_run_id, created_at, updated_at"

// filterActivations narrows q to the workspace's activations f asks for; table is what
// the query calls the activations table.
func filterActivations(q *gorm.DB, table, workspaceID string, f ActivationFilter) *gorm.DB {
	q = q.Where(table+".workspace_id = ?", workspaceID)
	switch f.Status {
	case "":
	case ActivationPaused:
		q = q.Where(table+".status = ?", ActivationPaused)
	default:
		// Health is the last run's: an activation paused because its run failed still
		// shows under Failed, where the seed sends people to look.
		q = q.Where(table+".health = ?", f.Status)
	}
	if f.Search != "" {
		q = q.Where("LOWER("+table+".name) LIKE ?", "%"+strings.ToLower(f.Search)+"%")
	}
	if f.After != "" {
		q = q.Where(table+".name > ?", f.After)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	return q
}

// ActivationRow is one row of the activations page: of the activation, only the
// columns the list shows (ID, Name, SegmentID, PlatformID, ScheduleJSON, Status,
// PauseAutomatic, PauseReason, Health, LastRunID), the names of its segment and
// platform, and its last run's id, status, time and sent count (LastRun.ID "" when
// it has none).
type ActivationRow struct {
	Activation   Activation
	SegmentName  string
	PlatformName string
	LastRun      struct {
		ID        string
		Status    string
		CreatedAt time.Time
		Sent      int64
	}
}

// ActivationRows reads a page of the activations list, as ListActivations filters and
// orders it, with each row's names and last run, in one query.
func (s *Store) ActivationRows(ctx context.Context, workspaceID string, f ActivationFilter) ([]ActivationRow, error) {
	q := s.db.WithContext(ctx).Table("activations AS a").
		Select("a.id, a.name, a.segment_id, a.platform_id, a.schedule_json, a.status, a.pause_automatic, a.pause_reason, a.health, a.last_run_id, " +
			"COALESCE(g.name, ''), COALESCE(p.name, ''), COALESCE(r.id, ''), COALESCE(r.status, ''), r.created_at, COALESCE(r.sent, 0)").
		Joins("LEFT JOIN segments AS g ON g.id = a.segment_id AND g.workspace_id = a.workspace_id").
		Joins("LEFT JOIN platforms AS p ON p.id = a.platform_id AND p.workspace_id = a.workspace_id").
		Joins("LEFT JOIN runs AS r ON r.id = a.last_run_id AND r.workspace_id = a.workspace_id")
	var out []ActivationRow
	err := s.eachRow(filterActivations(q, "a", workspaceID, f).Order("a.name"), func(row rowScanner) error {
		var r ActivationRow
		a, run := &r.Activation, &r.LastRun
		var runAt *time.Time
		if err := row.Scan(&a.ID, &a.Name, &a.SegmentID, &a.PlatformID, &a.ScheduleJSON, &a.Status, &a.PauseAutomatic, &a.PauseReason,
			&a.Health, &a.LastRunID, &r.SegmentName, &r.PlatformName, &run.ID, &run.Status, &runAt, &run.Sent); err != nil {
			return err
		}
		a.WorkspaceID = workspaceID
		if runAt != nil {
			run.CreatedAt = *runAt
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// FirstSteps says which of what an activation needs the workspace already has: the
// empty activations page ticks them off.
type FirstSteps struct {
	SourceConnected, Model, Segment, Platform bool
}

// CanCreateActivation is whether an activation can be made: it needs a segment and a
// platform.
func (f FirstSteps) CanCreateActivation() bool { return f.Segment && f.Platform }

// FirstSteps reads, in one query, whether the workspace has a connected source, a
// model, a segment and a platform.
func (s *Store) FirstSteps(ctx context.Context, workspaceID string) (FirstSteps, error) {
	var row struct{ Sources, Models, Segments, Platforms int64 }
	exists := func(table, where string) string {
		return "(SELECT COUNT(*) FROM (SELECT 1 FROM " + table + " WHERE workspace_id = ?" + where + " LIMIT 1) x)"
	}
	err := s.db.WithContext(ctx).Raw("SELECT "+exists("sources", " AND status = ?")+" AS sources, "+exists("data_models", "")+" AS models, "+
		exists("segments", "")+" AS segments, "+exists("platforms", "")+" AS platforms",
		workspaceID, SourceConnected, workspaceID, workspaceID, workspaceID).Scan(&row).Error
	return FirstSteps{SourceConnected: row.Sources > 0, Model: row.Models > 0, Segment: row.Segments > 0, Platform: row.Platforms > 0}, translate(err)
}

// ActivationsUsingPlatform lists the activations that send to a platform.
func (s *Store) ActivationsUsingPlatform(ctx context.Context, workspaceID, platformID string) ([]Activation, error) {
	var out []Activation
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND platform_id = ?", workspaceID, platformID).Order("name").Find(&out).Error
	return out, translate(err)
}

// DeleteActivation removes an activation with its runs and state.
func (s *Store) DeleteActivation(ctx context.Context, a Actor, id string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var act Activation
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&act).Error; err != nil {
			return translate(err)
		}
		if err := tx.Delete(&act).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, change{"activation.delete", "activation", act.ID, act.Name, act.audit(), nil})
	})
}

// Causes of automatic pauses; a manual pause has none.
const (
	PauseCausePlatform  = "platform"
	PauseCauseSource    = "source"
	PauseCauseSchema    = "schema"
	PauseCauseThreshold = "source_issues"
)

// Pause stops an activation. cause "" is a manual pause, only lifted by hand; an
// automatic pause (with its cause) is also lifted when that cause is gone. A manual
// pause is never replaced by an automatic one.
func (s *Store) Pause(ctx context.Context, a Actor, id, cause, reason string) (*Activation, error) {
	automatic := cause != ""
	var act Activation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&act).Error; err != nil {
			return translate(err)
		}
		if act.Status == ActivationPaused && (!act.PauseAutomatic || automatic) {
			return nil
		}
		before := act.audit()
		now := s.now()
		act.Status, act.PauseAutomatic, act.PauseCause, act.PauseReason, act.PausedAt, act.UpdatedAt = ActivationPaused, automatic, cause, reason, &now, now
		if err := tx.Save(&act).Error; err != nil {
			return translate(err)
		}
		if err := s.recordEvent(tx, a, &act, EventPaused, cause, reason); err != nil {
			return err
		}
		return s.record(tx, a, change{"activation.pause", "activation", act.ID, act.Name, before, act.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &act, nil
}

// Resume restarts a paused activation. cause "" is a person resuming (any pause); an
// automatic resume names the cause that is gone and lifts only a pause of that cause.
func (s *Store) Resume(ctx context.Context, a Actor, id, cause string) (*Activation, error) {
	var act Activation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&act).Error; err != nil {
			return translate(err)
		}
		if act.Status != ActivationPaused || (cause != "" && (!act.PauseAutomatic || act.PauseCause != cause)) {
			return nil
		}
		before := act.audit()
		was := act.PauseCause
		act.Status, act.PauseAutomatic, act.PauseCause, act.PauseReason, act.PausedAt, act.UpdatedAt = ActivationActive, false, "", "", nil, s.now()
		if err := tx.Save(&act).Error; err != nil {
			return translate(err)
		}
		if err := s.recordEvent(tx, a, &act, EventResumed, cause, resumeReason(was, cause)); err != nil {
			return err
		}
		return s.record(tx, a, change{"activation.resume", "activation", act.ID, act.Name, before, act.audit()})
	})
	if err != nil {
		return nil, err
	}
	return &act, nil
}

// ScheduledActivations lists the active activations, of every workspace, that have a
// schedule (the scheduler's tick reads them).
func (s *Store) ScheduledActivations(ctx context.Context) ([]Activation, error) {
	var out []Activation
	err := s.db.WithContext(ctx).Where("status = ? AND schedule_json NOT LIKE ?", ActivationActive, `%"kind":"manual"%`).Find(&out).Error
	return out, translate(err)
}

// LastScheduledFor is the tick of an activation's latest scheduled run, nil if none.
func (s *Store) LastScheduledFor(ctx context.Context, activationID string) (*time.Time, error) {
	var r Run
	err := s.db.WithContext(ctx).Where("activation_id = ? AND scheduled_for IS NOT NULL", activationID).Order("scheduled_for DESC").Take(&r).Error
	if errors.Is(translate(err), ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return r.ScheduledFor, nil
}
