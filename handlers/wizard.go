package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/jobs"
	"sluice/models"
	"sluice/views/activationsview"
	"sluice/views/components"
)

// The new-activation wizard is one form posted back to activations.create at every
// step, like the segment builder: the draft rides in the form's fields, the button
// pressed (go) says what to do with it, and only go=create saves anything.
//
//	next, back, step:<name>   move (forward moves check the steps walked so far)
//	add-row, remove-row:<i>   edit the mappings; suggest proposes them again by name
//	refresh                   redraw the step in place (the schedule's next runs)
//	create                    save, then open the activation

// New opens the wizard at its first step; ?segment_id= and ?platform_id= preselect.
func (h *ActivationHandler) New(c echo.Context) error {
	st := activationsview.WizardState{
		Step: activationsview.StepSegment, SegmentID: c.QueryParam("segment_id"), PlatformID: c.QueryParam("platform_id"),
		ScheduleKind: "manual", EveryN: "30", EveryUnit: "m", At: "06:00", Weekday: "monday", Timezone: "UTC", Threshold: "10",
	}
	p, err := h.wizardProps(c, &st, "", nil)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, activationsview.WizardPage(p), activationsview.Wizard(p))
}

// Edit opens the wizard on a saved activation, every step reachable; ?step= opens one
// step (the "Edit mapping" fix opens the mappings, the fix of a refused action setting
// the settings), unless the activation fails today's checks: then the step at fault.
func (h *ActivationHandler) Edit(c echo.Context) error {
	a, err := h.store.ActivationByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	sc, set := a.Schedule(), a.Settings()
	st := activationsview.WizardState{
		ID: a.ID, Name: a.Name, SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action, Mappings: a.Mappings(),
		ScheduleKind: sc.Kind, EveryN: "30", EveryUnit: "m", At: valueOr(sc.At, "06:00"), Weekday: valueOr(sc.Weekday, "monday"),
		Timezone: valueOr(sc.Timezone, "UTC"), Expr: sc.Expr, Region: set.DefaultPhoneRegion,
		Threshold: strconv.FormatFloat(set.SourceIssueThreshold, 'f', -1, 64), Removals: set.SendRemovals,
		ActionSettings: set.Action,
		Reached:        len(activationsview.WizardSteps) - 1, Step: activationsview.StepSegment,
	}
	if d, err := time.ParseDuration(sc.Every); err == nil && d > 0 {
		if d%time.Hour == 0 {
			st.EveryN, st.EveryUnit = strconv.Itoa(int(d/time.Hour)), "h"
		} else {
			st.EveryN, st.EveryUnit = strconv.Itoa(int(d/time.Minute)), "m"
		}
	}
	if step := c.QueryParam("step"); activationsview.StepIndex(step) >= 0 && step != "" {
		st.Step = step
	}
	// A saved activation that fails today's checks (a mapped column gone from the model,
	// a setting its action now requires) opens on the step at fault, the error beside
	// the field: the fix buttons of a run's errors lead here.
	in, _ := wizardInput(st)
	var fe *models.FieldError
	if err := h.core.CheckActivation(c.Request().Context(), workspaceID(c), &in); !asFieldErr(err, &fe) && err != nil {
		return fmt.Errorf("edit activation %s: %w", a.ID, err)
	}
	var errs components.FormErrors
	if fe != nil && stepOf(fe.Field) != activationsview.StepReview {
		// The review shows only the name's errors; others (a kind this build lacks) are
		// said by the run and the platform's page.
		st.Step, errs = stepOf(fe.Field), components.FormErrors{fe.Field: fe.Message}
	}
	p, err := h.wizardProps(c, &st, "", errs)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, activationsview.WizardPage(p), activationsview.Wizard(p))
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Create moves the wizard a step, or saves the activation when go=create.
func (h *ActivationHandler) Create(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	st := parseWizard(form)
	action := form.Get("go")
	if action == "create" {
		return h.createActivation(c, st)
	}
	steps := activationsview.WizardSteps
	cur := activationsview.StepIndex(st.Step)
	st.Step = steps[cur].Name
	var fe *models.FieldError
	switch target, jump := strings.CutPrefix(action, "step:"); {
	case action == "next" && cur+1 < len(steps):
		fe, err = h.checkUpTo(c, &st, cur)
		st.Step = steps[cur+1].Name
	case action == "back" && cur > 0:
		st.Step = steps[cur-1].Name
	case jump && activationsview.StepIndex(target) <= st.Reached:
		to := activationsview.StepIndex(target)
		if to > cur {
			fe, err = h.checkUpTo(c, &st, to-1)
		}
		st.Step = steps[to].Name
	}
	if err != nil {
		return err
	}
	var errs components.FormErrors
	if fe != nil {
		st.Step, errs = stepOf(fe.Field), components.FormErrors{fe.Field: fe.Message}
	}
	p, err := h.wizardProps(c, &st, action, errs)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if len(p.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, activationsview.WizardPage(p), activationsview.Wizard(p))
}

// createActivation saves the draft; a field error re-opens the step of the field, with
// the error beside it.
func (h *ActivationHandler) createActivation(c echo.Context, st activationsview.WizardState) error {
	in, fe := wizardInput(st)
	var a *models.Activation
	var err error
	if fe == nil {
		if st.ID != "" {
			a, err = h.core.UpdateActivation(c.Request().Context(), actor(c), st.ID, in)
		} else {
			a, err = h.core.CreateActivation(c.Request().Context(), actor(c), in)
		}
		if !asFieldErr(err, &fe) && err != nil {
			return fmt.Errorf("save activation: %w", err)
		}
	}
	if fe != nil {
		st.Step = stepOf(fe.Field)
		p, err := h.wizardProps(c, &st, "", components.FormErrors{fe.Field: fe.Message})
		if err != nil {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, activationsview.WizardPage(p), activationsview.Wizard(p))
	}
	msg := a.Name + " created. Run it now, or let its schedule start it."
	if st.ID != "" {
		msg = a.Name + " saved. The next run uses the new settings."
	}
	if st.FullResync {
		if _, err := h.runs.RunNow(c.Request().Context(), workspaceID(c), a.ID, models.TriggerManual, true); err != nil {
			if ferr := flash(c, "warning", "The first full resync could not be queued: "+plainError(err)+" Start it from this page."); ferr != nil {
				return ferr
			}
		} else {
			msg = a.Name + " created. Its first run, a full resync, is queued."
		}
	}
	if err := flash(c, "success", msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("activations.show", a.ID))
}

// checkUpTo checks the draft with CreateActivation's rules and answers the first error
// on a step up to last (errors of later steps wait: those steps are not filled yet).
// The steps that pass keep their normalized values (each mapping's type is the field's).
func (h *ActivationHandler) checkUpTo(c echo.Context, st *activationsview.WizardState, last int) (*models.FieldError, error) {
	in, fe := wizardInput(*st)
	if fe == nil {
		err := h.core.CheckActivation(c.Request().Context(), workspaceID(c), &in)
		if !asFieldErr(err, &fe) && err != nil {
			return nil, err
		}
	}
	if fe != nil && activationsview.StepIndex(stepOf(fe.Field)) <= last {
		return fe, nil
	}
	if last >= activationsview.StepIndex(activationsview.StepMappings) && (fe == nil || !strings.HasPrefix(fe.Field, "mappings")) {
		st.Mappings = in.Mappings
	}
	return nil, nil
}

// stepOf is the wizard step where the input named field is set, so an error on it is
// shown beside it: "mappings[2].from" is on the mappings step.
func stepOf(field string) string {
	switch {
	case field == "segment_id":
		return activationsview.StepSegment
	case field == "platform_id":
		return activationsview.StepPlatform
	case field == "action":
		return activationsview.StepAction
	case strings.HasPrefix(field, "mappings"):
		return activationsview.StepMappings
	case strings.HasPrefix(field, "schedule"):
		return activationsview.StepSchedule
	case strings.HasPrefix(field, "settings"), strings.HasPrefix(field, "action_settings"):
		return activationsview.StepSettings
	}
	return activationsview.StepReview
}

// parseWizard reads the draft from the posted fields. Mapping rows are m.<i>.from,
// m.<i>.to and m.<i>.type, kept in the order of i.
func parseWizard(form url.Values) activationsview.WizardState {
	st := activationsview.WizardState{
		ID: form.Get("activation_id"), Step: form.Get("step"), Name: form.Get("name"), SegmentID: form.Get("segment_id"), PlatformID: form.Get("platform_id"),
		Action: form.Get("action"), MappedFor: form.Get("mapped_for"),
		ScheduleKind: form.Get("schedule_kind"), EveryN: strings.TrimSpace(form.Get("every_n")), EveryUnit: form.Get("every_unit"),
		At: form.Get("at"), Weekday: form.Get("weekday"), Timezone: strings.TrimSpace(form.Get("timezone")), Expr: strings.TrimSpace(form.Get("expr")),
		Region: strings.ToUpper(strings.TrimSpace(form.Get("default_phone_region"))), Threshold: strings.TrimSpace(form.Get("source_issue_threshold")),
		Removals: form.Get("send_removals") == "true", FullResync: form.Get("full_resync") == "true",
	}
	st.Reached, _ = strconv.Atoi(form.Get("reached"))
	for key, vals := range form {
		if name, ok := strings.CutPrefix(key, "as."); ok && name != "" && len(vals) > 0 {
			if st.ActionSettings == nil {
				st.ActionSettings = map[string]string{}
			}
			st.ActionSettings[name] = strings.TrimSpace(vals[0])
		}
	}
	rows := map[int]*models.Mapping{}
	for key, vals := range form {
		rest, ok := strings.CutPrefix(key, "m.")
		if !ok || len(vals) == 0 {
			continue
		}
		idx, field, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i > 500 {
			continue
		}
		m := rows[i]
		if m == nil {
			m = &models.Mapping{}
			rows[i] = m
		}
		switch field {
		case "from":
			m.From = strings.TrimSpace(vals[0])
		case "to":
			m.To = strings.TrimSpace(vals[0])
		case "type":
			m.Type = vals[0]
		}
	}
	idx := make([]int, 0, len(rows))
	for i := range rows {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		st.Mappings = append(st.Mappings, *rows[i])
	}
	return st
}

// wizardSchedule is the draft's schedule, with only the fields of its kind.
func wizardSchedule(st activationsview.WizardState) models.Schedule {
	sc := models.Schedule{Kind: st.ScheduleKind}
	switch st.ScheduleKind {
	case "interval":
		if st.EveryN != "" {
			unit := "m"
			if st.EveryUnit == "h" {
				unit = "h"
			}
			sc.Every = st.EveryN + unit
		}
	case "daily":
		sc.At, sc.Timezone = st.At, st.Timezone
	case "weekly":
		sc.At, sc.Weekday, sc.Timezone = st.At, st.Weekday, st.Timezone
	case "cron":
		sc.Expr, sc.Timezone = st.Expr, st.Timezone
	case "":
		sc.Kind = "manual"
	}
	return sc
}

// wizardInput is the draft as the delivery service takes it; a threshold that is not a
// number is the one error found here.
func wizardInput(st activationsview.WizardState) (models.ActivationInput, *models.FieldError) {
	in := models.ActivationInput{
		Name: strings.TrimSpace(st.Name), SegmentID: st.SegmentID, PlatformID: st.PlatformID, Action: st.Action,
		Mappings: slices.Clone(st.Mappings), Schedule: wizardSchedule(st),
		Settings: models.ActivationSettings{DefaultPhoneRegion: st.Region, SendRemovals: st.Removals},
	}
	for name, v := range st.ActionSettings {
		if v != "" {
			if in.Settings.Action == nil {
				in.Settings.Action = map[string]string{}
			}
			in.Settings.Action[name] = v
		}
	}
	if st.Threshold != "" {
		t, err := strconv.ParseFloat(st.Threshold, 64)
		if err != nil {
			return in, &models.FieldError{Field: "settings.source_issue_threshold", Message: "Give a percentage from 0 to 100 (0 never pauses)."}
		}
		in.Settings.SourceIssueThreshold = t
	}
	return in, nil
}

// wizardProps loads what the step shows, applies a mapping edit (add-row, remove-row:i,
// suggest), proposes mappings on a first visit of the mappings step, and on the review
// samples the payloads.
func (h *ActivationHandler) wizardProps(c echo.Context, st *activationsview.WizardState, action string, errs components.FormErrors) (activationsview.WizardProps, error) {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	p := activationsview.WizardProps{Errors: errs, ModelNames: map[string]string{}, KindLabels: map[string]string{}, Timezones: timezones}
	if p.Errors == nil {
		p.Errors = components.FormErrors{}
	}
	var err error
	if p.Segments, err = h.store.ListSegments(ctx, ws, ""); err != nil {
		return p, err
	}
	if p.Platforms, err = h.store.ListPlatforms(ctx, ws); err != nil {
		return p, err
	}
	dms, err := h.store.ListModels(ctx, ws, "")
	if err != nil {
		return p, err
	}
	for i := range dms {
		p.ModelNames[dms[i].ID] = dms[i].Name
	}
	for _, sp := range h.core.Registry().DestinationSpecs() {
		p.KindLabels[sp.Kind] = sp.Label
	}

	// What is chosen so far; a first choice is offered when nothing is.
	if st.SegmentID == "" && len(p.Segments) > 0 {
		st.SegmentID = p.Segments[0].ID
	}
	for i := range p.Segments {
		if p.Segments[i].ID == st.SegmentID {
			p.Segment = &p.Segments[i]
		}
	}
	if p.Segment != nil {
		for i := range dms {
			if dms[i].ID == p.Segment.ModelID {
				p.Model = &dms[i]
			}
		}
	}
	if st.PlatformID == "" && len(p.Platforms) > 0 {
		st.PlatformID = p.Platforms[0].ID
	}
	for i := range p.Platforms {
		if p.Platforms[i].ID == st.PlatformID {
			p.Platform = &p.Platforms[i]
		}
	}
	if p.Platform != nil {
		if p.Actions, err = h.core.Actions(ctx, ws, p.Platform.ID); err != nil {
			return p, err
		}
	}
	if len(p.Actions) == 1 && st.Action == "" {
		st.Action = p.Actions[0].Name
	}
	for i := range p.Actions {
		if p.Actions[i].Name == st.Action {
			p.Action = &p.Actions[i]
		}
	}
	if err := h.actionSettings(c, st, &p); err != nil {
		return p, err
	}

	if p.Model != nil && p.Action != nil {
		cols := p.Model.Columns()
		key := p.Model.ID + "/" + st.PlatformID + "/" + st.Action
		// Mappings are proposed on the first visit, and again when they were made for
		// another model or action; mappings posted without their origin are kept.
		stale := st.MappedFor != key && (st.MappedFor != "" || len(st.Mappings) == 0)
		switch {
		case action == "suggest" || (st.Step == activationsview.StepMappings && stale):
			st.Mappings, st.MappedFor = suggestMappings(cols, p.Model.PrimaryKey, *p.Action), key
			for k := range p.Errors {
				if strings.HasPrefix(k, "mappings[") {
					delete(p.Errors, k)
				}
			}
		case action == "add-row":
			st.Mappings = append(st.Mappings, nextMapping(cols, p.Model.PrimaryKey, *p.Action, st.Mappings))
		case strings.HasPrefix(action, "remove-row:"):
			if i, err := strconv.Atoi(strings.TrimPrefix(action, "remove-row:")); err == nil && i >= 0 && i < len(st.Mappings) {
				st.Mappings = slices.Delete(st.Mappings, i, i+1)
			}
		}
		if st.MappedFor == "" && len(st.Mappings) > 0 {
			st.MappedFor = key
		}
	}

	sc := wizardSchedule(*st)
	p.NextRuns, p.ScheduleNote = nextRuns(sc, time.Now())

	st.Reached = max(st.Reached, activationsview.StepIndex(st.Step))
	if st.Step == activationsview.StepReview {
		if st.Name == "" && p.Segment != nil && p.Platform != nil {
			st.Name = p.Segment.Name + " → " + p.Platform.Name
		}
		if err := h.review(c, st, &p); err != nil {
			return p, err
		}
	}
	p.State = *st
	return p, nil
}

// actionSettings keeps the values of the chosen action's settings only (those of an
// action chosen before are dropped), and on the steps that show them lists the choices
// the platform offers, through core, which opens it.
func (h *ActivationHandler) actionSettings(c echo.Context, st *activationsview.WizardState, p *activationsview.WizardProps) error {
	if p.Action == nil || len(p.Action.Settings) == 0 {
		st.ActionSettings = nil
		return nil
	}
	kept := map[string]string{}
	for _, f := range p.Action.Settings {
		if v, ok := st.ActionSettings[f.Name]; ok {
			kept[f.Name] = v
		}
	}
	st.ActionSettings = kept
	if st.Step != activationsview.StepSettings && st.Step != activationsview.StepReview {
		for _, f := range p.Action.Settings {
			p.Settings = append(p.Settings, activationsview.SettingField{Spec: f, Value: kept[f.Name]})
		}
		return nil
	}
	choices, err := h.core.ActionSettingChoices(c.Request().Context(), workspaceID(c), p.Platform.ID, *p.Action)
	if err != nil {
		return fmt.Errorf("list the choices of %s: %w", p.Action.Name, err)
	}
	for _, f := range p.Action.Settings {
		value, ok := kept[f.Name]
		if !ok {
			value = f.Default
		}
		p.Settings = append(p.Settings, activationsview.SettingField{Spec: f, Value: value, Options: choices.Options[f.Name], ListErr: choices.Errors[f.Name]})
	}
	return nil
}

// review samples what the first run sends. A draft the checks refuse goes back to the
// step at fault; a source or platform that cannot be read is said on the page.
func (h *ActivationHandler) review(c echo.Context, st *activationsview.WizardState, p *activationsview.WizardProps) error {
	in, fe := wizardInput(*st)
	var pv *jobs.Preview
	var err error
	if fe == nil {
		pv, err = h.runs.Preview(c.Request().Context(), workspaceID(c), in)
	}
	switch {
	case fe != nil || asFieldErr(err, &fe):
		if stepOf(fe.Field) == activationsview.StepReview {
			// Only the name can be at fault here, and CreateActivation checks it.
			break
		}
		st.Step = stepOf(fe.Field)
		p.Errors[fe.Field] = fe.Message
		return nil
	case err != nil:
		if _, ok := connectors.AsError(err); !ok && !errors.Is(err, models.ErrNotFound) {
			return err
		}
		p.PreviewErr = plainError(err)
		return nil
	}
	if pv == nil {
		return nil
	}
	p.Preview = &activationsview.WizardPreview{Count: pv.Count, Records: pv.Records, BatchSize: pv.Action.BatchSize}
	for _, is := range pv.Withheld {
		p.Preview.Withheld = append(p.Preview.Withheld, activationsview.WithheldRow{Key: is.PrimaryKey, Code: is.Code, Field: is.Field, Message: is.Message})
	}
	return nil
}

// nextRuns writes the schedule's next three ticks in its time zone (and in UTC when
// that differs), or says why there are none.
func nextRuns(sc models.Schedule, now time.Time) ([]string, string) {
	if sc.Kind == "manual" {
		return nil, ""
	}
	loc := time.UTC
	if sc.Timezone != "" {
		l, err := time.LoadLocation(sc.Timezone)
		if err != nil {
			return nil, "Give a time zone like Europe/Paris or UTC to see the next runs."
		}
		loc = l
	}
	var out []string
	t := now
	for range 3 {
		next, err := sc.Next(t)
		if err != nil || next.IsZero() {
			return nil, "Complete the schedule to see its next runs."
		}
		s := next.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
		if loc != time.UTC && sc.Kind != "interval" {
			s += " · " + next.UTC().Format("15:04 UTC")
		}
		out = append(out, s)
		t = next
	}
	return out, ""
}

// timezones are offered in the time-zone field; any IANA name is accepted.
var timezones = []string{"UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Amsterdam",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
	"Asia/Tokyo", "Asia/Singapore", "Asia/Kolkata", "Asia/Dubai", "Australia/Sydney"}

// normName compares names loosely: "First Name", "first_name" and "firstName" match.
func normName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, s)
}

// guessKind is the field type a column most likely holds: e-mail and phone by its
// name, the rest by its type.
func guessKind(c connectors.Column) connectors.FieldKind {
	n := normName(c.Name)
	if c.Type == connectors.TypeString || c.Type == connectors.TypeUnknown {
		switch {
		case strings.Contains(n, "email") || n == "mail":
			return connectors.KindEmail
		case strings.Contains(n, "phone") || strings.Contains(n, "mobile") || n == "tel" || strings.HasSuffix(n, "msisdn"):
			return connectors.KindPhone
		}
	}
	switch c.Type {
	case connectors.TypeInteger, connectors.TypeNumber:
		return connectors.KindNumber
	case connectors.TypeBoolean:
		return connectors.KindBoolean
	case connectors.TypeDate, connectors.TypeTimestamp:
		return connectors.KindDatetime
	}
	return connectors.KindString
}

// suggestMappings proposes mappings by name. Each field the action knows takes the
// column of the same name (or label), or else, for an e-mail or phone field, a column
// whose name says it holds one. A Custom action then takes every other column but the
// primary key (sent as the record's key anyway) under its own name, typed by guessKind.
func suggestMappings(cols []connectors.Column, pk string, a connectors.Action) []models.Mapping {
	var out []models.Mapping
	used := map[string]bool{}
	for _, f := range a.Fields {
		var pick *connectors.Column
		for i, c := range cols {
			if !used[c.Name] && (normName(c.Name) == normName(f.Name) || normName(c.Name) == normName(f.Label)) {
				pick = &cols[i]
				break
			}
		}
		if pick == nil && (f.Kind == connectors.KindEmail || f.Kind == connectors.KindPhone) {
			for i, c := range cols {
				if !used[c.Name] && guessKind(c) == f.Kind {
					pick = &cols[i]
					break
				}
			}
		}
		if pick != nil {
			used[pick.Name] = true
			out = append(out, models.Mapping{From: pick.Name, To: f.Name, Type: string(f.Kind)})
		}
	}
	if !a.Custom {
		return out
	}
	taken := map[string]bool{}
	for _, m := range out {
		taken[m.To] = true
	}
	for _, c := range cols {
		if used[c.Name] || c.Name == pk || taken[c.Name] {
			continue
		}
		out = append(out, models.Mapping{From: c.Name, To: c.Name, Type: string(guessKind(c))})
	}
	return out
}

// nextMapping is the row "+ Add mapping" adds: the first field the action knows that is
// not mapped yet, or for a Custom action the first column not mapped yet, as itself.
func nextMapping(cols []connectors.Column, pk string, a connectors.Action, have []models.Mapping) models.Mapping {
	from, to := map[string]bool{}, map[string]bool{}
	for _, m := range have {
		from[m.From], to[m.To] = true, true
	}
	for _, f := range a.Fields {
		if !to[f.Name] {
			m := models.Mapping{To: f.Name, Type: string(f.Kind)}
			if len(cols) > 0 {
				m.From = cols[0].Name
			}
			return m
		}
	}
	for _, c := range cols {
		if !from[c.Name] && !to[c.Name] && c.Name != pk {
			return models.Mapping{From: c.Name, To: c.Name, Type: string(guessKind(c))}
		}
	}
	m := models.Mapping{Type: string(connectors.KindString)}
	if len(cols) > 0 {
		m.From = cols[0].Name
	}
	return m
}
