package core

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
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
	ByName   bool // ToID is the target's of the same name (found, or chosen)
	Options  []CopyOption
}

// CopyOption is a source or platform of the target the user may map to.
type CopyOption struct{ ID, Name string }

// CopyPlan is the preview of a copy: what will be created, and what it maps to.
type CopyPlan struct {
	Target   *models.Workspace
	Items    []CopyItem
	Mappings []CopyMapping
	// Refused is why the copy cannot be made onto the source or platform mapped, in
	// plain words naming it and the column or field at fault; nil when it can. The plan
	// is whole otherwise, so that another source or platform may be chosen.
	Refused  *models.FieldError
	input    models.CopyInput
	target   models.Actor
	kind, id string
}

// Problem is why the plan cannot be made as it stands: a mapping still to choose, or
// its refusal; nil when it can.
func (p *CopyPlan) Problem() *models.FieldError {
	for _, m := range p.Mappings {
		if m.ToID == "" {
			return &models.FieldError{Field: m.Kind + "_id", Message: fmt.Sprintf(
				"Choose the %s of %s that %s %s maps to.", m.Kind, p.Target.Name, m.Kind, m.From)}
		}
	}
	return p.Refused
}

// PlanCopy previews copying a model, segment or activation (kind, id) of a's
// workspace, with its dependencies, into the workspace of t, the actor there (from
// Store.CopyTargetActor or CopyTargetToken, checked again here). The model is checked
// against the target's source and the activation against the target's platform by the
// rules that create one there (checkOn): a refusal is the plan's Refused. A target with
// no source or platform of the kind needed is a *models.FieldError.
func (s *Service) PlanCopy(ctx context.Context, a, t models.Actor, kind, id string, ch CopyChoices) (*CopyPlan, error) {
	t, err := s.store.CopyTarget(ctx, a, t)
	if err != nil {
		return nil, err
	}
	targetID := t.WorkspaceID
	w, err := s.store.WorkspaceByID(ctx, targetID)
	if err != nil {
		return nil, err
	}
	plan := &CopyPlan{Target: w, target: t, kind: kind, id: id}
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
	sm := copyMapping("source", src.Name, src.Kind, ch.SourceID, sameKind(sources, src.Kind, func(x models.Source) (string, CopyOption) {
		return x.Kind, CopyOption{x.ID, x.Name}
	}))
	if len(sm.Options) == 0 {
		return nil, &models.FieldError{Field: "source_id", Message: fmt.Sprintf(
			"%s has no %s source to copy %s onto: connect one there first.", w.Name, src.Kind, m.Name)}
	}
	plan.Mappings = append(plan.Mappings, sm)
	plan.input.Model = models.ModelInput{Name: m.Name, SourceID: sm.ToID, Relation: m.Relation(), PrimaryKey: m.PrimaryKey, Columns: m.Columns()}
	if sm.ToID != "" {
		plan.Refused = s.checkCopiedModel(ctx, w, sm.ToName, &plan.input.Model)
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
		if sm.ToID != "" && plan.Refused == nil {
			if plan.Refused, err = checkCopiedSegment(w, sm.ToName, seg, plan.input.Model.Columns); err != nil {
				return nil, err
			}
		}
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
		pm := copyMapping("platform", p.Name, p.Kind, ch.PlatformID, sameKind(platforms, p.Kind, func(x models.Platform) (string, CopyOption) {
			return x.Kind, CopyOption{x.ID, x.Name}
		}))
		if len(pm.Options) == 0 {
			return nil, &models.FieldError{Field: "platform_id", Message: fmt.Sprintf(
				"%s has no %s platform to send %s to: connect one there first.", w.Name, p.Kind, act.Name)}
		}
		plan.Mappings = append(plan.Mappings, pm)
		plan.input.Activation = &models.ActivationInput{Name: act.Name, PlatformID: pm.ToID, Action: act.Action,
			Mappings: act.Mappings(), Schedule: act.Schedule(), Settings: act.Settings()}
		if pm.ToID != "" && sm.ToID != "" && plan.Refused == nil {
			if plan.Refused, err = s.checkCopiedActivation(ctx, w, act.Name, plan.input.Model, plan.input.Activation); err != nil {
				return nil, err
			}
		}
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
// the model must be there. The input takes the target's columns. A refusal names the
// source and the column.
func (s *Service) checkCopiedModel(ctx context.Context, target *models.Workspace, sourceName string, in *models.ModelInput) *models.FieldError {
	_, conn, err := s.openByID(ctx, target.ID, in.SourceID)
	if err != nil {
		return &models.FieldError{Field: "source_id", Message: fmt.Sprintf(
			"Source %s of %s could not be opened: %s Check it on its page in %s, or choose another source.", sourceName, target.Name, errorText(err), target.Name)}
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

// checkCopiedSegment checks the segment's conditions as SaveSegment does, against the
// model's columns as the target's source reads them (a column of another type there may
// not take the same values). A refusal names the source, then the condition at fault.
func checkCopiedSegment(target *models.Workspace, sourceName string, seg *models.Segment, columns []connectors.Column) (*models.FieldError, error) {
	cond, err := segments.Parse(seg.ConditionsJSON)
	if err == nil {
		err = asModelFieldError(segments.Validate(cond, columns))
	}
	var fe *models.FieldError
	if !errors.As(err, &fe) {
		return nil, err
	}
	why := strings.TrimSuffix(fe.Message, ".") + "."
	msg := fmt.Sprintf("Segment %s cannot be copied onto source %s of %s: %s", seg.Name, sourceName, target.Name, why)
	if leaf := conditionAt(cond, fe.Field); leaf.IsLeaf() {
		if at := slices.IndexFunc(columns, func(c connectors.Column) bool { return c.Name == leaf.Column }); at >= 0 {
			msg = fmt.Sprintf("Segment %s cannot be copied onto source %s of %s: its condition on column %s (%s there): %s",
				seg.Name, sourceName, target.Name, leaf.Column, columns[at].Type, why)
		}
	}
	return &models.FieldError{Field: "source_id", Message: msg}, nil
}

// conditionAt is the condition a path of the segment's rules (conditions.all[0].any[1].value)
// is in.
func conditionAt(c segments.Condition, path string) segments.Condition {
	for _, m := range childIndex.FindAllStringSubmatch(path, -1) {
		i, _ := strconv.Atoi(m[1])
		if i >= len(c.Children) {
			break
		}
		c = c.Children[i]
	}
	return c
}

var childIndex = regexp.MustCompile(`\[(\d+)\]`)

// checkCopiedActivation checks the copied activation (in, normalized in place) as
// CreateActivation checks one, against the target's platform and the model as it reads
// in the target's source. A refusal names the platform, then what the rule says of the
// field at fault.
func (s *Service) checkCopiedActivation(ctx context.Context, target *models.Workspace, name string, m models.ModelInput, in *models.ActivationInput) (*models.FieldError, error) {
	p, err := s.store.PlatformByID(ctx, target.ID, in.PlatformID)
	if err != nil {
		return nil, err
	}
	err = s.checkOn(m.Name, m.Columns, p, in)
	var fe *models.FieldError
	if errors.As(err, &fe) {
		return &models.FieldError{Field: "platform_id", Message: fmt.Sprintf(
			"Activation %s cannot be copied onto platform %s of %s: %s Choose another platform, or change the activation here first.", name, p.Name, target.Name, fe.Message)}, nil
	}
	return nil, err
}

// Copy creates what plan (PlanCopy's answer) previews, in one transaction, and answers
// what it created in the target workspace. Every mapping must be resolved (matched by
// name or chosen) and the plan not refused; the roles are checked again as it is made.
func (s *Service) Copy(ctx context.Context, a models.Actor, plan *CopyPlan) (*models.Copied, error) {
	if pr := plan.Problem(); pr != nil {
		return nil, pr
	}
	return s.store.CopyInto(ctx, a, plan.target, plan.kind, plan.id, plan.input)
}

// sameKind is the target's sources or platforms of the kind copied: only those can run
// what was made for it.
func sameKind[T any](all []T, kind string, of func(T) (string, CopyOption)) []CopyOption {
	var out []CopyOption
	for _, x := range all {
		if k, o := of(x); k == kind {
			out = append(out, o)
		}
	}
	return out
}

// copyMapping maps a source or platform onto the target's of the same kind (options):
// the one chosen, or else the one of the same name.
func copyMapping(kind, from, fromKind, chosenID string, options []CopyOption) CopyMapping {
	m := CopyMapping{Kind: kind, From: from, FromKind: fromKind, Options: options}
	for _, o := range options {
		if (chosenID == "" && o.Name == from) || o.ID == chosenID {
			m.ToID, m.ToName, m.ByName = o.ID, o.Name, o.Name == from
		}
	}
	return m
}
