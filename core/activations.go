package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sluice/connectors"
	"sluice/models"
)

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
	return s.checkOn(m.Name, m.Columns(), p, in)
}

// checkOn is check's rules for an activation of a model (its name and columns) sent to
// platform p: also what a copy to another workspace must pass before its model exists
// there.
func (s *Service) checkOn(modelName string, columns []connectors.Column, p *models.Platform, in *models.ActivationInput) error {
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
		at := slices.IndexFunc(columns, func(c connectors.Column) bool { return c.Name == mp.From })
		if at < 0 {
			return &models.FieldError{Field: path + ".from", Message: fmt.Sprintf("The model %s has no column %q.", modelName, mp.From)}
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
		if col := columns[at]; !models.ColumnFitsField(col.Type, kind) {
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
	if err := in.Schedule.Check(); err != nil {
		return err
	}
	// Checked last, in the order of the wizard's steps: the settings step comes last,
	// and an error there must not hide one of an earlier step.
	if in.Settings.Action, err = models.CheckActionSettings(action.Settings, in.Settings.Action, action.Label+" on "+spec.Label); err != nil {
		return err
	}
	return in.Settings.Check()
}

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

// CheckActivation checks a draft activation with the rules CreateActivation applies,
// without saving it; it answers the first *models.FieldError. The draft is normalized
// in place (trimmed field names, each mapping's type set from the destination field).
func (s *Service) CheckActivation(ctx context.Context, workspaceID string, in *models.ActivationInput) error {
	return s.check(ctx, workspaceID, in)
}

// Pause stops an activation's runs by hand, with the reason shown beside it; only a
// person resumes it.
func (s *Service) Pause(ctx context.Context, a models.Actor, id, reason string) (*models.Activation, error) {
	return s.store.Pause(ctx, a, id, "", reason)
}

// Resume lifts a manual pause.
func (s *Service) Resume(ctx context.Context, a models.Actor, id string) (*models.Activation, error) {
	return s.store.Resume(ctx, a, id, "")
}

// PauseAutomatically pauses an activation as Sluice, for a cause that lifts by itself
// once gone (a broken platform, too many source issues).
func (s *Service) PauseAutomatically(ctx context.Context, workspaceID, id, cause, reason string) (*models.Activation, error) {
	return s.pauseAuto(ctx, workspaceID, id, cause, reason)
}

// DeleteActivation removes an activation, its runs and its sync state.
func (s *Service) DeleteActivation(ctx context.Context, a models.Actor, id string) error {
	return s.store.DeleteActivation(ctx, a, id)
}

// Actions lists what a saved platform can do, as it is configured (its batch size,
// whether it sends removals), for choosing an action before a run opens it. A platform
// that cannot be opened answers its kind's documented actions.
func (s *Service) Actions(ctx context.Context, workspaceID, platformID string) ([]connectors.Action, error) {
	p, err := s.store.PlatformByID(ctx, workspaceID, platformID)
	if err != nil {
		return nil, err
	}
	dest, spec, err := s.OpenPlatform(ctx, p)
	if err != nil {
		return spec.Actions, nil
	}
	defer dest.Close()
	out := make([]connectors.Action, len(spec.Actions))
	for i, a := range spec.Actions {
		out[i], _ = connectors.ActionOf(spec, dest, a.Name)
	}
	return out, nil
}

// ActionSettingChoices are the choices of an action's settings at one platform, for its
// form: by setting name, the options the platform listed, or the plain message saying
// why it could not list them (the form then takes the value as text). A setting
// without a list of choices is in neither.
type ActionSettingChoices struct {
	Options map[string][]connectors.Option
	Errors  map[string]string
}

// ActionSettingChoices opens the platform and asks it for the choices of each setting
// of action, when it implements connectors.OptionLister. A platform that cannot be
// opened says so on every setting.
func (s *Service) ActionSettingChoices(ctx context.Context, workspaceID, platformID string, action connectors.Action) (ActionSettingChoices, error) {
	out := ActionSettingChoices{Options: map[string][]connectors.Option{}, Errors: map[string]string{}}
	if len(action.Settings) == 0 {
		return out, nil
	}
	p, err := s.store.PlatformByID(ctx, workspaceID, platformID)
	if err != nil {
		return out, err
	}
	dest, _, err := s.OpenPlatform(ctx, p)
	if err != nil {
		msg := "Sluice could not open the platform " + p.Name + " to list the choices: " +
			connectors.UserMessage(err, "its settings could not be read.") + " Type the value instead."
		for _, f := range action.Settings {
			out.Errors[f.Name] = msg
		}
		return out, nil
	}
	defer dest.Close()
	lister, ok := dest.(connectors.OptionLister)
	if !ok {
		return out, nil
	}
	for _, f := range action.Settings {
		opts, ok, err := lister.Options(ctx, action.Name, f.Name)
		switch {
		case err != nil:
			out.Errors[f.Name] = p.Name + " did not list the choices of " + valueOr(f.Label, f.Name) + ": " +
				connectors.UserMessage(err, "it gave no answer Sluice could read.") + " Type the value instead."
		case ok:
			out.Options[f.Name] = opts
		}
	}
	return out, nil
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
