package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"sluice/connectors"
	"sluice/models"
)

// ActivationRequest is an activation as the user describes it.
type ActivationRequest = models.ActivationInput

// fieldKindFits says whether a model column of type t can feed a destination field.
func fieldKindFits(t connectors.ColumnType, k connectors.FieldKind) bool {
	switch k {
	case connectors.KindNumber:
		return t == connectors.TypeInteger || t == connectors.TypeNumber || t == connectors.TypeString
	case connectors.KindBoolean:
		return t == connectors.TypeBoolean || t == connectors.TypeString || t == connectors.TypeInteger
	case connectors.KindDatetime:
		return t == connectors.TypeDate || t == connectors.TypeTimestamp || t == connectors.TypeString
	}
	return true // text-like fields take any value as text
}

// check validates an activation against its segment's model and its platform's action:
// mapped columns exist and fit the field's type, required and identifier fields are mapped.
func (s *Service) check(ctx context.Context, workspaceID string, in *models.ActivationInput) error {
	seg, err := s.store.SegmentByID(ctx, workspaceID, in.SegmentID)
	if models.IsNotFound(err) {
		return &models.FieldError{Field: "segment_id", Message: "This segment does not exist."}
	}
	if err != nil {
		return err
	}
	m, err := s.store.ModelByID(ctx, workspaceID, seg.ModelID)
	if err != nil {
		return err
	}
	p, err := s.store.PlatformByID(ctx, workspaceID, in.PlatformID)
	if models.IsNotFound(err) {
		return &models.FieldError{Field: "platform_id", Message: "This platform does not exist."}
	}
	if err != nil {
		return err
	}
	spec, err := s.DestinationSpec(p.Kind)
	if err != nil {
		return err
	}
	var action *connectors.Action
	for i := range spec.Actions {
		if spec.Actions[i].Name == in.Action {
			action = &spec.Actions[i]
		}
	}
	if action == nil {
		names := make([]string, len(spec.Actions))
		for i, a := range spec.Actions {
			names[i] = a.Name
		}
		return &models.FieldError{Field: "action", Message: fmt.Sprintf("%s can do: %s.", spec.Label, strings.Join(names, ", "))}
	}
	if len(in.Mappings) == 0 {
		return &models.FieldError{Field: "mappings", Message: "Map at least one column to a destination field."}
	}
	fields := map[string]connectors.ActionField{}
	for _, f := range action.Fields {
		fields[f.Name] = f
	}
	mapped := map[string]bool{}
	for i := range in.Mappings {
		mp := &in.Mappings[i]
		path := fmt.Sprintf("mappings[%d]", i)
		col, ok := m.Column(mp.From)
		if !ok {
			return &models.FieldError{Field: path + ".from", Message: fmt.Sprintf("The model %s has no column %q.", m.Name, mp.From)}
		}
		mp.To = strings.TrimSpace(mp.To)
		if mp.To == "" {
			return &models.FieldError{Field: path + ".to", Message: "Name the destination field."}
		}
		if mapped[mp.To] {
			return &models.FieldError{Field: path + ".to", Message: fmt.Sprintf("%q is mapped twice.", mp.To)}
		}
		mapped[mp.To] = true
		f, known := fields[mp.To]
		if !known && !action.Custom {
			return &models.FieldError{Field: path + ".to", Message: fmt.Sprintf("%s has no field %q.", spec.Label, mp.To)}
		}
		kind := f.Kind
		if !known {
			kind = connectors.FieldKind(mp.Type)
			if kind == "" {
				kind = connectors.KindString
			}
		}
		switch kind {
		case connectors.KindEmail, connectors.KindPhone, connectors.KindString, connectors.KindNumber, connectors.KindBoolean, connectors.KindDatetime:
		default:
			return &models.FieldError{Field: path + ".type", Message: "Type must be email, phone, string, number, boolean or datetime."}
		}
		if !fieldKindFits(col.Type, kind) {
			return &models.FieldError{Field: path + ".from", Message: fmt.Sprintf("Column %s is %s; %s expects %s.", col.Name, col.Type, mp.To, kind)}
		}
		mp.Type = string(kind)
	}
	identifier := false
	for _, f := range action.Fields {
		if f.Required && !mapped[f.Name] {
			return &models.FieldError{Field: "mappings", Message: fmt.Sprintf("Map a column to %s: %s requires it.", f.Label, spec.Label)}
		}
		identifier = identifier || (f.Identifier && mapped[f.Name])
	}
	hasIdentifier := false
	for _, f := range action.Fields {
		hasIdentifier = hasIdentifier || f.Identifier
	}
	if hasIdentifier && !identifier {
		return &models.FieldError{Field: "mappings", Message: "Map at least one identifier field (e.g. e-mail), so the destination can match records."}
	}
	if err := checkSchedule(in.Schedule); err != nil {
		return err
	}
	return checkSettings(in.Settings)
}

// checkSchedule accepts the schedules of API.md, each with its fields well formed.
func checkSchedule(sc models.Schedule) error {
	bad := func(field, msg string) error { return &models.FieldError{Field: "schedule." + field, Message: msg} }
	if sc.Timezone != "" {
		if _, err := time.LoadLocation(sc.Timezone); err != nil {
			return bad("timezone", fmt.Sprintf("%q is not a time zone; use a name like Europe/Paris or UTC.", sc.Timezone))
		}
	}
	switch sc.Kind {
	case "", "manual":
	case "interval":
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			return bad("every", "Give an interval of at least a minute, like 30m or 6h.")
		}
	case "daily", "weekly":
		if _, err := time.Parse("15:04", sc.At); err != nil {
			return bad("at", "Give a time of day as HH:MM, like 06:00.")
		}
		if sc.Kind == "weekly" {
			if _, ok := weekdays[strings.ToLower(sc.Weekday)]; !ok {
				return bad("weekday", "Give a day of the week, like monday.")
			}
		}
	case "cron":
		_, err := parseCron(sc.Expr)
		switch {
		case errors.Is(err, errTooOften):
			return bad("expr", "This cron expression runs more often than once a minute, which Sluice does not allow. Give @every a duration of at least 1m, like @every 30m.")
		case err != nil:
			return bad("expr", "This is not a cron expression. Give five fields (minute hour day-of-month month weekday), like 0 6 * * *, or a shortcut like @hourly or @every 30m.")
		}
	default:
		return bad("kind", "Schedule kind must be manual, interval, daily, weekly or cron.")
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// checkSettings keeps run options in range.
func checkSettings(st models.ActivationSettings) error {
	if st.SourceIssueThreshold < 0 || st.SourceIssueThreshold > 100 {
		return &models.FieldError{Field: "settings.source_issue_threshold", Message: "Give a percentage from 0 to 100 (0 never pauses)."}
	}
	if st.DefaultPhoneRegion != "" && len(phonenumbers.GetSupportedRegions()) > 0 {
		if _, ok := phonenumbers.GetSupportedRegions()[strings.ToUpper(st.DefaultPhoneRegion)]; !ok {
			return &models.FieldError{Field: "settings.default_phone_region", Message: "Give a two-letter country code, like FR or US."}
		}
	}
	return nil
}

// BusyError refuses a run while another of the activation is queued or running.
type BusyError struct{ Run *models.Run }

func (e *BusyError) Error() string {
	return fmt.Sprintf("This activation already has a run %s (%s). Wait for it to finish, or cancel it, then start another.", e.Run.Status, e.Run.ID)
}

// ErrPaused refuses a run of a paused activation.
var ErrPaused = errors.New("delivery: the activation is paused")

// CreateActivation checks and saves an activation.
func (s *Service) CreateActivation(ctx context.Context, a models.Actor, in models.ActivationInput) (*models.Activation, error) {
	if err := s.check(ctx, a.WorkspaceID, &in); err != nil {
		return nil, err
	}
	return s.store.CreateActivation(ctx, a, in)
}

// UpdateActivation checks and saves a changed activation.
func (s *Service) UpdateActivation(ctx context.Context, a models.Actor, id string, in models.ActivationInput) (*models.Activation, error) {
	if _, err := s.store.ActivationByID(ctx, a.WorkspaceID, id); err != nil {
		return nil, err
	}
	if err := s.check(ctx, a.WorkspaceID, &in); err != nil {
		return nil, err
	}
	return s.store.UpdateActivation(ctx, a, id, in)
}

// RunNow queues a run and wakes a worker. A paused activation (ErrPaused) or one with a
// run queued or running (*BusyError) is refused.
func (s *Service) RunNow(ctx context.Context, workspaceID, activationID, trigger string, fullResync bool) (*models.Run, error) {
	act, err := s.store.ActivationByID(ctx, workspaceID, activationID)
	if err != nil {
		return nil, err
	}
	if act.Status == models.ActivationPaused {
		return nil, ErrPaused
	}
	if active, err := s.store.ActiveRun(ctx, activationID); err == nil {
		return nil, &BusyError{Run: active}
	} else if !models.IsNotFound(err) {
		return nil, err
	}
	r, err := s.store.EnqueueRun(ctx, workspaceID, activationID, trigger, nil, fullResync)
	if err != nil {
		return nil, err
	}
	s.Wake()
	return r, nil
}

// Wake tells an idle worker to look for queued runs now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Duplicate copies an activation under a free name ("… (copy)", "… (copy 2)"), paused
// by hand so the copy sends nothing until someone reviews and resumes it. Its state is
// not copied: its first run is a full one.
func (s *Service) Duplicate(ctx context.Context, a models.Actor, id string) (*models.Activation, error) {
	src, err := s.store.ActivationByID(ctx, a.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	in := models.ActivationInput{SegmentID: src.SegmentID, PlatformID: src.PlatformID, Action: src.Action,
		Mappings: src.Mappings(), Schedule: src.Schedule(), Settings: src.Settings()}
	for n := 1; n < 100; n++ {
		in.Name = src.Name + " (copy)"
		if n > 1 {
			in.Name = fmt.Sprintf("%s (copy %d)", src.Name, n)
		}
		dup, err := s.store.CreateActivation(ctx, a, in)
		var fe *models.FieldError
		if errors.As(err, &fe) && fe.Field == "name" {
			continue // taken: try the next name
		}
		if err != nil {
			return nil, err
		}
		return s.store.Pause(ctx, a, dup.ID, "", "Duplicated from "+src.Name+": review it, then resume it.")
	}
	return nil, &models.FieldError{Field: "name", Message: "Too many copies of this activation already."}
}
