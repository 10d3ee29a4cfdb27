package core

import (
	"context"
	"fmt"

	"sluice/models"
)

// CopyChoices are the target's source and platform the user picked where no name
// matched. Empty means "match by name".
type CopyChoices struct {
	SourceID   string
	PlatformID string
}

// CopyItem is one object a copy creates in the target.
type CopyItem struct {
	Kind string // "model", "segment" or "activation"
	Name string // its name in the target: its own, or "… (copy)" when taken there
	Note string // how it lands: "new", "new, paused"
}

// CopyMapping is one dependency mapped, not copied: a source or a platform of the
// target, matched by name or chosen. Options are the target's candidates of the same
// kind, for the choice.
type CopyMapping struct {
	Kind     string // "source" or "platform"
	From     string // its name in the source workspace
	FromKind string // its connector kind
	ToID     string
	ToName   string
	ByName   bool
	Options  []CopyOption
}

// CopyOption is a source or platform of the target the user may map to.
type CopyOption struct{ ID, Name string }

// CopyPlan is the preview of a copy: what will be created, and what it maps to.
type CopyPlan struct {
	Target   *models.Workspace
	Items    []CopyItem
	Mappings []CopyMapping
	input    models.CopyInput
	target   models.Actor
}

// NeedsChoice reports whether a mapping has no match by name and no choice yet.
func (p *CopyPlan) NeedsChoice() bool {
	for _, m := range p.Mappings {
		if m.ToID == "" {
			return true
		}
	}
	return false
}

// PlanCopy previews copying a model, segment or activation (kind, id) of the actor's
// workspace, with its dependencies, into another workspace of the organization. The
// model is checked against the target's source: a missing column is a plain error
// naming it and the source.
func (s *Service) PlanCopy(ctx context.Context, a models.Actor, kind, id, targetID string, ch CopyChoices) (*CopyPlan, error) {
	t, err := s.store.CopyTargetActor(ctx, a, targetID)
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkspaceByID(ctx, targetID)
	if err != nil {
		return nil, err
	}
	plan := &CopyPlan{Target: w, target: t}
	var (
		act *models.Activation
		seg *models.Segment
	)
	modelID := id
	switch kind {
	case "activation":
		if act, err = s.store.ActivationByID(ctx, a.WorkspaceID, id); err != nil {
			return nil, err
		}
		if seg, err = s.store.SegmentByID(ctx, a.WorkspaceID, act.SegmentID); err != nil {
			return nil, err
		}
		modelID = seg.ModelID
	case "segment":
		if seg, err = s.store.SegmentByID(ctx, a.WorkspaceID, id); err != nil {
			return nil, err
		}
		modelID = seg.ModelID
	case "model":
	default:
		return nil, models.ErrNotFound
	}
	m, err := s.store.ModelByID(ctx, a.WorkspaceID, modelID)
	if err != nil {
		return nil, err
	}
	plan.input.From = m.Name
	src, err := s.store.SourceByID(ctx, a.WorkspaceID, m.SourceID)
	if err != nil {
		return nil, err
	}
	sources, err := s.store.ListSources(ctx, targetID)
	if err != nil {
		return nil, err
	}
	var sameKind []CopyOption
	for _, c := range sources {
		if c.Kind == src.Kind {
			sameKind = append(sameKind, CopyOption{c.ID, c.Name})
		}
	}
	sm := copyMapping("source", src.Name, src.Kind, ch.SourceID, sameKind)
	if len(sm.Options) == 0 {
		return nil, &models.FieldError{Field: "source_id", Message: fmt.Sprintf(
			"%s has no %s source to copy %s onto: connect one there first.", w.Name, src.Kind, m.Name)}
	}
	plan.Mappings = append(plan.Mappings, sm)
	plan.input.Model = models.ModelInput{Name: m.Name, SourceID: sm.ToID, Relation: m.Relation(), PrimaryKey: m.PrimaryKey, Columns: m.Columns()}
	if sm.ToID != "" {
		if err := s.checkCopiedModel(ctx, targetID, sm.ToName, &plan.input.Model); err != nil {
			return nil, err
		}
	}
	name := func(k, n string) (string, error) {
		return models.FreeCopyName(n, func(x string) (bool, error) { return s.store.NameTaken(ctx, targetID, k, x) })
	}
	mn, err := name("model", m.Name)
	if err != nil {
		return nil, err
	}
	plan.Items = append(plan.Items, CopyItem{"model", mn, "new"})
	if seg != nil {
		plan.input.Segment = &models.SegmentInput{Name: seg.Name, ConditionsJSON: seg.ConditionsJSON}
		sn, err := name("segment", seg.Name)
		if err != nil {
			return nil, err
		}
		plan.Items = append(plan.Items, CopyItem{"segment", sn, "new"})
	}
	if act != nil {
		p, err := s.store.PlatformByID(ctx, a.WorkspaceID, act.PlatformID)
		if err != nil {
			return nil, err
		}
		platforms, err := s.store.ListPlatforms(ctx, targetID)
		if err != nil {
			return nil, err
		}
		var sameKind []CopyOption
		for _, c := range platforms {
			if c.Kind == p.Kind {
				sameKind = append(sameKind, CopyOption{c.ID, c.Name})
			}
		}
		pm := copyMapping("platform", p.Name, p.Kind, ch.PlatformID, sameKind)
		if len(pm.Options) == 0 {
			return nil, &models.FieldError{Field: "platform_id", Message: fmt.Sprintf(
				"%s has no %s platform to send %s to: connect one there first.", w.Name, p.Kind, act.Name)}
		}
		plan.Mappings = append(plan.Mappings, pm)
		plan.input.Activation = &models.ActivationInput{Name: act.Name, PlatformID: pm.ToID, Action: act.Action,
			Mappings: act.Mappings(), Schedule: act.Schedule(), Settings: act.Settings()}
		an, err := name("activation", act.Name)
		if err != nil {
			return nil, err
		}
		plan.Items = append(plan.Items, CopyItem{"activation", an, "new, paused until someone resumes it"})
	}
	switch {
	case act != nil:
		plan.input.From = act.Name
	case seg != nil:
		plan.input.From = seg.Name
	}
	return plan, nil
}

// checkCopiedModel reads the model's relation in the target's source: every column of
// the model must be there. The input takes the target's columns.
func (s *Service) checkCopiedModel(ctx context.Context, targetID, sourceName string, in *models.ModelInput) error {
	_, conn, err := s.openByID(ctx, targetID, in.SourceID)
	if err != nil {
		return fmt.Errorf("source %s of the target workspace could not be opened: %w", sourceName, err)
	}
	defer conn.Close()
	cols, err := conn.Columns(ctx, in.Relation)
	if err != nil {
		return &models.FieldError{Field: "source_id", Message: fmt.Sprintf(
			"Model %s cannot be read from source %s: %s", in.Name, sourceName, errorText(err))}
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c.Name] = true
	}
	for _, c := range in.Columns {
		if !have[c.Name] {
			return &models.FieldError{Field: "source_id", Message: fmt.Sprintf(
				"Column %s of model %s is missing from source %s.", c.Name, in.Name, sourceName)}
		}
	}
	in.Columns = cols
	return nil
}

// Copy creates what PlanCopy previews, in one transaction, and answers what it created
// in the target workspace. Every mapping must be resolved (matched by name or chosen).
func (s *Service) Copy(ctx context.Context, a models.Actor, kind, id, targetID string, ch CopyChoices) (*models.Copied, error) {
	plan, err := s.PlanCopy(ctx, a, kind, id, targetID, ch)
	if err != nil {
		return nil, err
	}
	for _, m := range plan.Mappings {
		if m.ToID == "" {
			return nil, &models.FieldError{Field: m.Kind + "_id", Message: fmt.Sprintf(
				"Choose the %s of %s that %s %s maps to.", m.Kind, plan.Target.Name, m.Kind, m.From)}
		}
	}
	return s.store.CopyInto(ctx, a, targetID, kind, id, plan.input)
}

// copyMapping maps a source or platform onto the target's of the same kind (options):
// the one chosen, or else the one of the same name.
func copyMapping(kind, from, fromKind, chosenID string, options []CopyOption) CopyMapping {
	m := CopyMapping{Kind: kind, From: from, FromKind: fromKind, Options: options}
	for _, o := range options {
		if (chosenID == "" && o.Name == from) || o.ID == chosenID {
			m.ToID, m.ToName, m.ByName = o.ID, o.Name, chosenID == ""
		}
	}
	return m
}
