package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/segments"
	"sluice/views/segmentsview"
)

// SegmentHandler serves the segments list and the visual builder.
type SegmentHandler struct{ *Server }

// Index lists the workspace's segments.
func (h *SegmentHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	segs, err := h.store.ListSegments(ctx, workspaceID(c), "")
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	dms, err := h.store.ListModels(ctx, workspaceID(c), "")
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	names := map[string]string{}
	for _, m := range dms {
		names[m.ID] = m.Name
	}
	return h.render(c, http.StatusOK, segmentsview.IndexPage(segmentsview.IndexProps{Segments: segs, ModelNames: names, HasModels: len(dms) > 0}), nil)
}

// props computes what the builder shows for a state: the count, SQL and breakdown.
func (h *SegmentHandler) props(c echo.Context, st *builderState) (segmentsview.BuilderProps, error) {
	ctx := c.Request().Context()
	dms, err := h.store.ListModels(ctx, workspaceID(c), "")
	if err != nil {
		return segmentsview.BuilderProps{}, err
	}
	p := segmentsview.BuilderProps{Models: dms, Name: st.name, Breakdown: st.breakdown}
	for i := range dms {
		if dms[i].ID == st.modelID || (st.modelID == "" && i == 0) {
			p.Model = &dms[i]
		}
	}
	if st.segmentID != "" {
		if p.Segment, err = h.store.SegmentByID(ctx, workspaceID(c), st.segmentID); err != nil {
			return p, err
		}
	}
	if p.Model == nil {
		p.Root = st.root.view()
		return p, nil
	}
	st.apply(p.Model)
	fixOperators(&st.root, p.Model)
	valid, complete := markErrors(&st.root, p.Model)
	p.Root = st.root.view()
	switch {
	case !valid:
		p.CountErr = "Fix the highlighted conditions to see the count."
		return p, nil
	case !complete:
		p.Waiting = true
		return p, nil
	}
	cond := st.root.Condition(p.Model.Columns())
	est, err := h.core.Count(ctx, workspaceID(c), p.Model.ID, cond)
	if err != nil {
		p.CountErr = "Cannot count in the warehouse: " + plainError(err)
		return p, nil
	}
	p.Count, p.Counted, p.SQL, p.ScanBytes = est.Count, true, est.SQL, est.ScanBytes
	if st.breakdown != "" {
		buckets, err := h.core.Breakdown(ctx, workspaceID(c), p.Model.ID, cond, st.breakdown)
		if err == nil {
			p.Bars = bars(buckets, est.Count)
		}
	}
	return p, nil
}

func bars(buckets []core.Bucket, total int64) []segmentsview.Bar {
	out := make([]segmentsview.Bar, len(buckets))
	for i, b := range buckets {
		label := b.Value
		if b.Null {
			label = "(unknown)"
		}
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(b.Count) / float64(total)
		}
		out[i] = segmentsview.Bar{Label: label, Count: b.Count, Percent: pct}
	}
	return out
}

// New opens the builder on a model (?model_id=), with no condition yet.
func (h *SegmentHandler) New(c echo.Context) error {
	st := builderState{modelID: c.QueryParam("model_id"), root: builderNode{Path: "r", Kind: segments.GroupAll}}
	p, err := h.props(c, &st)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, segmentsview.BuilderPage(p), nil)
}

// Show opens a saved segment in the builder.
func (h *SegmentHandler) Show(c echo.Context) error {
	g, err := h.store.SegmentByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	cond, err := segments.Parse(g.ConditionsJSON)
	if err != nil {
		return fmt.Errorf("segment %s: stored conditions: %w", g.ID, err)
	}
	st := builderState{segmentID: g.ID, name: g.Name, modelID: g.ModelID, root: builderFromCondition(cond, "r")}
	p, err := h.props(c, &st)
	if err != nil {
		return err
	}
	sm, err := h.store.SegmentModelOf(c.Request().Context(), workspaceID(c), g.ID)
	if err != nil {
		return fmt.Errorf("segment %s: model: %w", g.ID, err)
	}
	if p.Warnings, err = h.dependencyWarnings(c, sm, g.ID, ""); err != nil {
		return fmt.Errorf("segment %s: warnings: %w", g.ID, err)
	}
	return h.render(c, http.StatusOK, segmentsview.BuilderPage(p), nil)
}

// Refresh re-renders the builder after any change, with a new count.
func (h *SegmentHandler) Refresh(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	st := parseBuilder(form)
	p, err := h.props(c, &st)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, segmentsview.BuilderPage(p), segmentsview.Builder(p))
}

// Create saves a new segment.
func (h *SegmentHandler) Create(c echo.Context) error { return h.save(c, "") }

// Update saves a segment's changes.
func (h *SegmentHandler) Update(c echo.Context) error { return h.save(c, c.Param("id")) }

func (h *SegmentHandler) save(c echo.Context, id string) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.ErrBadRequest
	}
	st := parseBuilder(form)
	st.action, st.segmentID = "", id
	var cond segments.Condition
	if m, err := h.store.ModelByID(c.Request().Context(), workspaceID(c), st.modelID); err == nil {
		cond = st.root.Condition(m.Columns())
	}
	g, err := h.core.SaveSegment(c.Request().Context(), actor(c), id, core.SegmentRequest{ModelID: st.modelID, Name: st.name, Conditions: cond})
	if errs, ok := formErrors(err); ok {
		p, perr := h.props(c, &st)
		if perr != nil {
			return perr
		}
		p.Errors = errs
		for k, v := range errs {
			if strings.HasPrefix(k, "conditions") {
				p.Errors["conditions"] = v
			}
		}
		return h.render(c, http.StatusUnprocessableEntity, segmentsview.BuilderPage(p), segmentsview.Builder(p))
	}
	if err != nil {
		return fmt.Errorf("save segment: %w", err)
	}
	if err := flash(c, "success", g.Name+" saved."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("segments.show", g.ID))
}

// Delete removes a segment.
func (h *SegmentHandler) Delete(c echo.Context) error {
	g, err := h.store.SegmentByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.core.DeleteSegment(c.Request().Context(), actor(c), g.ID); err != nil {
		return dependentsMessage(err, g.Name)
	}
	if err := flash(c, "success", g.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("segments.index"))
}
