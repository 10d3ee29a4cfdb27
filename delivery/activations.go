package delivery

import (
	"context"
	"fmt"
	"strings"

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
	return nil
}

// checkSchedule accepts the schedules of API.md (the scheduler runs them).
func checkSchedule(sc models.Schedule) error {
	switch sc.Kind {
	case "", "manual", "interval", "daily", "weekly", "cron":
		return nil
	}
	return &models.FieldError{Field: "schedule.kind", Message: "Schedule kind must be manual, interval, daily, weekly or cron."}
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

// RunNow queues a run and wakes a worker.
func (s *Service) RunNow(ctx context.Context, workspaceID, activationID, trigger string, fullResync bool) (*models.Run, error) {
	if _, err := s.store.ActivationByID(ctx, workspaceID, activationID); err != nil {
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
