package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/datamodels"
)

// remapSamples is how many values of each candidate column the wizard shows.
const remapSamples = 5

// RemapWizard is the remap wizard for one column the warehouse lost (?column=email): the
// new columns most likely to replace it, a few of their values, and what accepting
// changes (?to= picks another candidate), worked out by the same code that applies it.
func (h *ModelHandler) RemapWizard(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	m, err := h.store.ModelByID(ctx, ws, c.Param("id"))
	if err != nil {
		return err
	}
	from := c.QueryParam("column")
	col, ok := m.Column(from)
	if !ok {
		if err := flash(c, "error", fmt.Sprintf("The model %s has no column %q to remap.", m.Name, from)); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("models.show", m.ID))
	}
	p := datamodels.RemapProps{Model: m, Column: col}
	for _, i := range m.Issues() {
		if i.Column == from {
			p.Issue = &i
			break
		}
	}
	if from == m.PrimaryKey {
		if d := m.Duplicates(); d != nil {
			p.OldSamples = d.Samples // the only values of the column Sluice keeps
		}
	}
	acts, err := h.store.ActivationsOnModels(ctx, ws, []string{m.ID})
	if err != nil {
		return fmt.Errorf("remap wizard: activations: %w", err)
	}
	for _, am := range acts {
		if a := am.Activation; a.Status == models.ActivationPaused && a.PauseAutomatic && a.PauseCause == models.PauseCauseSchema {
			p.Paused = append(p.Paused, a)
		}
	}

	// One read of the warehouse gives the columns as they are now and their first rows.
	pv, err := h.core.PreviewRelation(ctx, ws, m.SourceID, m.Relation())
	if err != nil {
		p.ReadError = "The warehouse could not be read: " + plainError(err)
		return h.render(c, http.StatusOK, datamodels.RemapPage(p), nil)
	}
	index := map[string]int{}
	for i, pc := range pv.Columns {
		index[pc.Name] = i
	}
	for _, s := range core.SuggestColumns(col, m.Columns(), pv.Columns) {
		cand := datamodels.RemapCandidate{Column: s.Column, SameType: s.SameType, Similarity: s.Similarity}
		for _, row := range pv.Rows {
			if v := row[index[s.Column.Name]]; v != "" && len(cand.Samples) < remapSamples {
				cand.Samples = append(cand.Samples, v)
			}
		}
		p.Candidates = append(p.Candidates, cand)
	}
	p.To = c.QueryParam("to")
	if p.To == "" && len(p.Candidates) > 0 {
		p.To = p.Candidates[0].Column.Name
	}
	if p.To != "" {
		plan, err := h.core.RemapPlan(ctx, ws, m.ID, from, p.To)
		var fe *models.FieldError
		switch {
		case asFieldErr(err, &fe):
			p.PlanError = fe.Message
		case err != nil:
			p.PlanError = "The change could not be worked out: " + plainError(err)
		default:
			p.Plan = remapChanges(plan)
		}
	}
	return h.render(c, http.StatusOK, datamodels.RemapPage(p), nil)
}

// remapChanges is a remap plan as the wizard shows it.
func remapChanges(plan *core.RemapPlan) *datamodels.RemapChanges {
	out := &datamodels.RemapChanges{PrimaryKey: plan.PrimaryKey}
	for _, g := range plan.Segments {
		out.Segments = append(out.Segments, datamodels.RemapTarget{ID: g.ID, Name: g.Name})
	}
	for _, a := range plan.Activations {
		out.Activations = append(out.Activations, datamodels.RemapTarget{ID: a.ID, Name: a.Name, Fields: a.Fields})
	}
	return out
}

// remapMessage says what a remap changed and which activations resumed.
func remapMessage(r *core.RemapResult) string {
	p := r.Plan
	msg := fmt.Sprintf("%s now replaces %s", p.To, p.From)
	var changed []string
	if p.PrimaryKey {
		changed = append(changed, "the primary key")
	}
	if n := len(p.Segments); n > 0 {
		changed = append(changed, plural(n, "segment")+" ("+names(p.Segments, func(s core.RemapSegment) string { return s.Name })+")")
	}
	if n := len(p.Activations); n > 0 {
		changed = append(changed, "the mappings of "+plural(n, "activation")+" ("+names(p.Activations, func(a core.RemapActivation) string { return a.Name })+")")
	}
	if len(changed) > 0 {
		msg += " in " + strings.Join(changed, ", ")
	}
	msg += "."
	if len(r.Resumed) > 0 {
		msg += " Resumed: " + names(r.Resumed, func(a core.RemapActivation) string { return a.Name }) + "."
	}
	return msg
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func names[T any](list []T, name func(T) string) string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = name(v)
	}
	return strings.Join(out, ", ")
}
