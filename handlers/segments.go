package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/models"
	"sluice/segments"
	"sluice/views/segmentsview"
	"sluice/warehouse"
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

// builderState is the builder as posted: the tree rebuilt from its fields.
type builderState struct {
	segmentID, name, modelID, breakdown, action string
	root                                        segmentsview.Node
}

// pathLess orders paths like "r.2" < "r.10", so rows keep their order.
func pathLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

// parseBuilder rebuilds the tree from fields named n.<path>.<field>.
func parseBuilder(form url.Values) builderState {
	st := builderState{segmentID: form.Get("segment_id"), name: form.Get("name"), modelID: form.Get("model_id"), breakdown: form.Get("breakdown"), action: form.Get("action")}
	nodes := map[string]*segmentsview.Node{}
	for key, vals := range form {
		rest, ok := strings.CutPrefix(key, "n.")
		if !ok || len(vals) == 0 {
			continue
		}
		i := strings.LastIndex(rest, ".")
		if i < 0 {
			continue
		}
		path, field := rest[:i], rest[i+1:]
		n := nodes[path]
		if n == nil {
			n = &segmentsview.Node{Path: path}
			nodes[path] = n
		}
		switch field {
		case "kind":
			n.Kind = vals[0]
		case "column":
			n.Column = vals[0]
		case "op":
			n.Op = vals[0]
		case "value":
			n.Value = vals[0]
		case "value2":
			n.Value2 = vals[0]
		}
	}
	paths := make([]string, 0, len(nodes))
	for p := range nodes {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return pathLess(paths[i], paths[j]) })
	st.root = segmentsview.Node{Path: "r", Kind: segments.GroupAll}
	if r, ok := nodes["r"]; ok && r.Kind == segments.GroupAny {
		st.root.Kind = segments.GroupAny
	}
	// Attach children deepest-last: parents sort before their children.
	for _, p := range paths {
		if p == "r" {
			continue
		}
		parent := st.root.Find(p[:strings.LastIndex(p, ".")])
		if parent == nil || parent.Kind == "leaf" {
			continue
		}
		n := *nodes[p]
		if n.Kind != "leaf" && n.Kind != segments.GroupAny {
			n.Kind = segments.GroupAll
		}
		parent.Children = append(parent.Children, n)
	}
	st.root.Renumber("r")
	return st
}

// apply carries out the clicked action: add a rule or a group, or remove a row.
func (st *builderState) apply(m *models.DataModel) {
	kind, path, _ := strings.Cut(st.action, ":")
	target := st.root.Find(path)
	if target == nil {
		return
	}
	switch kind {
	case "add-leaf":
		if st.root.Leaves() >= segments.MaxLeaves {
			return
		}
		n := segmentsview.Node{Kind: "leaf"}
		if cols := m.Columns(); len(cols) > 0 {
			n.Column, n.Op = cols[0].Name, segments.OperatorsFor(cols[0].Type)[0]
		}
		target.Children = append(target.Children, n)
	case "add-group":
		if st.root.Depth() < segments.MaxDepth-1 {
			target.Children = append(target.Children, segmentsview.Node{Kind: segments.GroupAll})
		}
	case "remove":
		st.root.Remove(path)
	}
	st.root.Renumber("r")
}

// fixOperators keeps each rule's operator valid for its column (the column may have
// just changed).
func fixOperators(n *segmentsview.Node, m *models.DataModel) {
	if n.Kind == "leaf" {
		col, ok := m.Column(n.Column)
		if !ok && len(m.Columns()) > 0 {
			col = m.Columns()[0]
			n.Column = col.Name
		}
		ops := segments.OperatorsFor(col.Type)
		valid := false
		for _, op := range ops {
			valid = valid || op == n.Op
		}
		if !valid && len(ops) > 0 {
			n.Op = ops[0]
		}
		return
	}
	for i := range n.Children {
		fixOperators(&n.Children[i], m)
	}
}

// markErrors puts each rule's validation error beside it. A rule whose value is not
// typed yet is incomplete rather than wrong: it waits quietly.
func markErrors(n *segmentsview.Node, m *models.DataModel) (valid, complete bool) {
	valid, complete = true, true
	if n.Kind == "leaf" {
		n.Error, n.Incomplete = "", false
		if n.Op != segments.OpIsNull && n.Op != segments.OpIsNotNull && strings.TrimSpace(n.Value) == "" {
			n.Incomplete = true
			return true, false
		}
		if err := segments.Validate(n.Condition(m.Columns()), m.Columns()); err != nil {
			var fe *segments.FieldError
			if asSegmentErr(err, &fe) {
				n.Error = fe.Message
			} else {
				n.Error = err.Error()
			}
			return false, true
		}
		return true, true
	}
	for i := range n.Children {
		v, c := markErrors(&n.Children[i], m)
		valid, complete = valid && v, complete && c
	}
	return valid, complete
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
		p.Root = st.root
		return p, nil
	}
	st.apply(p.Model)
	fixOperators(&st.root, p.Model)
	valid, complete := markErrors(&st.root, p.Model)
	p.Root = st.root
	switch {
	case !valid:
		p.CountErr = "Fix the highlighted conditions to see the count."
		return p, nil
	case !complete:
		p.Waiting = true
		return p, nil
	}
	cond := st.root.Condition(p.Model.Columns())
	est, err := h.wh.Count(ctx, workspaceID(c), p.Model.ID, cond)
	if err != nil {
		p.CountErr = "Cannot count in the warehouse: " + plainError(err)
		return p, nil
	}
	p.Count, p.Counted, p.SQL = est.Count, true, est.SQL
	if st.breakdown != "" {
		buckets, err := h.wh.Breakdown(ctx, workspaceID(c), p.Model.ID, cond, st.breakdown)
		if err == nil {
			p.Bars = bars(buckets, est.Count)
		}
	}
	return p, nil
}

func bars(buckets []warehouse.Bucket, total int64) []segmentsview.Bar {
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
	st := builderState{modelID: c.QueryParam("model_id"), root: segmentsview.Node{Path: "r", Kind: segments.GroupAll}}
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
	cond, err := warehouse.Conditions(g)
	if err != nil {
		return fmt.Errorf("segment %s: stored conditions: %w", g.ID, err)
	}
	st := builderState{segmentID: g.ID, name: g.Name, modelID: g.ModelID, root: segmentsview.FromCondition(cond, "r")}
	p, err := h.props(c, &st)
	if err != nil {
		return err
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
	g, err := h.wh.SaveSegment(c.Request().Context(), actor(c), id, warehouse.SegmentRequest{ModelID: st.modelID, Name: st.name, Conditions: cond})
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
	if err := h.store.DeleteSegment(c.Request().Context(), actor(c), g.ID); err != nil {
		return dependentsMessage(err, g.Name)
	}
	if err := flash(c, "success", g.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("segments.index"))
}
