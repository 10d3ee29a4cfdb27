package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/copyview"
)

// CopyHandler serves "Copy to workspace…" of a model, segment or activation: choose the
// target workspace, preview what will be created there, create it and switch to it.
type CopyHandler struct{ *Server }

var errCopyForbidden = echo.NewHTTPError(http.StatusForbidden, "Copying needs the editor role (or above) in both workspaces.")

// copied names the object being copied, in the actor's workspace.
func (h *CopyHandler) copied(c echo.Context) (copyview.Props, error) {
	ctx := c.Request().Context()
	ws, id := workspaceID(c), c.Param("id")
	p := copyview.Props{Kind: c.Param("kind"), ID: id}
	var err error
	switch p.Kind {
	case "model":
		var m *models.DataModel
		if m, err = h.store.ModelByID(ctx, ws, id); err == nil {
			p.Name = m.Name
		}
	case "segment":
		var g *models.Segment
		if g, err = h.store.SegmentByID(ctx, ws, id); err == nil {
			p.Name = g.Name
		}
	case "activation":
		var a *models.Activation
		if a, err = h.store.ActivationByID(ctx, ws, id); err == nil {
			p.Name = a.Name
		}
	default:
		return p, echo.ErrNotFound
	}
	if err != nil {
		return p, err
	}
	p.Targets, err = h.store.CopyTargets(ctx, actor(c))
	return p, err
}

// copyRefusal is the answer to a missing role (on either side) or a workspace that is
// not another of the organization's; other errors pass unchanged.
func copyRefusal(err error) error {
	switch {
	case errors.Is(err, models.ErrForbidden):
		return errCopyForbidden
	case models.IsNotFound(err):
		return echo.ErrNotFound
	}
	return err
}

func copyChoices(c echo.Context) core.CopyChoices {
	return core.CopyChoices{SourceID: c.FormValue("source_id"), PlatformID: c.FormValue("platform_id")}
}

// plan fills the preview of a copy into the target; a refusal in plain words is shown
// on the page (with the choices, when there is a plan to choose in), a missing role or a
// workspace of another organization is not.
func (h *CopyHandler) plan(c echo.Context, p *copyview.Props, target string) (*core.CopyPlan, error) {
	ctx := c.Request().Context()
	p.Target = target
	t, err := h.store.CopyTargetActor(ctx, actor(c), target)
	var plan *core.CopyPlan
	if err == nil {
		plan, err = h.core.PlanCopy(ctx, actor(c), t, p.Kind, p.ID, copyChoices(c))
	}
	if errors.Is(err, models.ErrForbidden) || models.IsNotFound(err) {
		return nil, copyRefusal(err)
	}
	for _, w := range p.Targets {
		if w.ID == target {
			p.TargetName = w.Name
		}
	}
	var fe *models.FieldError
	if errors.As(err, &fe) {
		p.Error = fe.Message
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("copy preview: %w", err)
	}
	if plan.Refused != nil {
		p.Error = plan.Refused.Message
	}
	for _, it := range plan.Items {
		p.Items = append(p.Items, copyview.Item{Kind: it.Kind, Name: it.Name, Note: it.Note})
	}
	for _, m := range plan.Mappings {
		vm := copyview.Mapping{Kind: m.Kind, From: m.From, FromKind: m.FromKind, ToID: m.ToID, ToName: m.ToName, ByName: m.ByName}
		for _, o := range m.Options {
			vm.Options = append(vm.Options, copyview.Option{ID: o.ID, Name: o.Name})
		}
		p.Mappings = append(p.Mappings, vm)
	}
	return plan, nil
}

// Show is steps 1 and 2: the target workspaces, and with ?target= the preview. A
// mapping changed on the preview asks for the preview alone (htmx).
func (h *CopyHandler) Show(c echo.Context) error {
	p, err := h.copied(c)
	if err != nil {
		return err
	}
	if t := c.QueryParam("target"); t != "" {
		if _, err := h.plan(c, &p, t); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, copyview.Page(p), copyview.Preview(p))
}

// Create is step 3: everything is created in one transaction, then the user is switched
// to the target workspace and lands on the new object.
func (h *CopyHandler) Create(c echo.Context) error {
	ctx := c.Request().Context()
	p, err := h.copied(c)
	if err != nil {
		return err
	}
	target := c.FormValue("target")
	plan, err := h.plan(c, &p, target)
	if err != nil {
		return err
	}
	if p.Error != "" {
		return h.render(c, http.StatusUnprocessableEntity, copyview.Page(p), nil)
	}
	got, err := h.core.Copy(ctx, actor(c), plan)
	var fe *models.FieldError
	if errors.As(err, &fe) {
		p.Error = fe.Message
		return h.render(c, http.StatusUnprocessableEntity, copyview.Page(p), nil)
	}
	if err := copyRefusal(err); err != nil {
		return fmt.Errorf("copy %s %s: %w", p.Kind, p.ID, err)
	}
	if _, err := h.core.SwitchWorkspace(ctx, currentSessionID(c), currentUser(c).ID, target); err != nil {
		return fmt.Errorf("copy: switch to the target workspace: %w", err)
	}
	dest, msg := c.Echo().Reverse("models.show", got.Model.ID), "Model "+got.Model.Name+" copied to "+p.TargetName+"."
	switch {
	case got.Activation != nil:
		dest, msg = c.Echo().Reverse("activations.show", got.Activation.ID), "Activation "+got.Activation.Name+" copied to "+p.TargetName+", paused: review it, then resume it."
	case got.Segment != nil:
		dest, msg = c.Echo().Reverse("segments.show", got.Segment.ID), "Segment "+got.Segment.Name+" copied to "+p.TargetName+"."
	}
	if err := flash(c, "success", msg+" You are working in "+p.TargetName+" now."); err != nil {
		return err
	}
	return redirect(c, dest)
}
