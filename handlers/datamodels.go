package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/core"
	"sluice/models"
	"sluice/segments"
	"sluice/views/datamodels"
)

// ModelHandler serves the models pages; editors and admins create and check models.
type ModelHandler struct{ *Server }

type modelForm struct {
	SourceID   string `form:"source_id" query:"source_id"`
	Name       string `form:"name" query:"name"`
	Mode       string `form:"mode" query:"mode"`
	Table      string `form:"table"`
	SQL        string `form:"sql"`
	PrimaryKey string `form:"primary_key"`
}

// tableFromPicker reads "schema.name" (or a bare name) from the table picker.
func tableFromPicker(v string) *connectors.Table {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if schema, name, ok := strings.Cut(v, "."); ok {
		return &connectors.Table{Schema: schema, Name: name}
	}
	return &connectors.Table{Name: v}
}

func (f modelForm) request() core.ModelRequest {
	r := core.ModelRequest{SourceID: f.SourceID, Name: f.Name, PrimaryKey: f.PrimaryKey}
	if f.Mode == "sql" {
		r.SQL = f.SQL
	} else {
		r.Table = tableFromPicker(f.Table)
	}
	return r
}

// Index lists the workspace's models.
func (h *ModelHandler) Index(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := h.store.ListModels(ctx, workspaceID(c), "")
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	srcs, err := h.store.ListSources(ctx, workspaceID(c))
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	names := map[string]string{}
	for _, s := range srcs {
		names[s.ID] = s.Name
	}
	ids := make([]string, len(list))
	for i, m := range list {
		ids[i] = m.ID
	}
	issues, err := h.store.OpenIssuesByObject(ctx, workspaceID(c), ids)
	if err != nil {
		return fmt.Errorf("list models: open issues: %w", err)
	}
	return h.render(c, http.StatusOK, datamodels.IndexPage(datamodels.IndexProps{Models: list, Sources: names, Issues: issues}), nil)
}

// formProps fills the editor: the sources, and the tables of the chosen one.
func (h *ModelHandler) formProps(c echo.Context, f modelForm) (datamodels.FormProps, error) {
	ctx := c.Request().Context()
	srcs, err := h.store.ListSources(ctx, workspaceID(c))
	if err != nil {
		return datamodels.FormProps{}, err
	}
	p := datamodels.FormProps{Sources: srcs, SourceID: f.SourceID, Mode: f.Mode, Table: f.Table, SQL: f.SQL, Name: f.Name, PrimaryKey: f.PrimaryKey}
	if p.SourceID == "" && len(srcs) > 0 {
		p.SourceID = srcs[0].ID
	}
	if p.SourceID != "" && p.Mode != "sql" {
		p.Tables, err = h.core.Tables(ctx, workspaceID(c), p.SourceID)
		if err != nil {
			p.TablesErr = "Cannot list the tables: " + plainError(err)
		}
	}
	return p, nil
}

// plainError is a connector's message for the user, or a generic one.
func plainError(err error) string {
	if ce, ok := connectors.AsError(err); ok {
		return ce.Message
	}
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		return fe.Message
	}
	return "the source did not answer. Open the source and validate it."
}

// New shows the editor; changing source or mode reloads it.
func (h *ModelHandler) New(c echo.Context) error {
	var f modelForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	p, err := h.formProps(c, f)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, datamodels.NewPage(p), datamodels.Form(p))
}

// Preview describes the table or query and shows its first rows and the key picker.
func (h *ModelHandler) Preview(c echo.Context) error {
	var f modelForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	return h.render(c, http.StatusOK, datamodels.Preview(h.preview(c, f)), nil)
}

// preview reads the first rows of the form's table or query, the chosen key kept (or
// one guessed).
func (h *ModelHandler) preview(c echo.Context, f modelForm) datamodels.PreviewProps {
	req := f.request()
	rel := connectors.Relation{Table: req.Table, SQL: strings.TrimSpace(req.SQL)}
	props := datamodels.PreviewProps{PrimaryKey: f.PrimaryKey}
	if rel.Table == nil && rel.SQL == "" {
		props.Error = "Pick a table, or write a SQL query."
	} else if pv, err := h.core.PreviewRelation(c.Request().Context(), workspaceID(c), f.SourceID, rel); err != nil {
		props.Error = plainError(err)
	} else {
		props.Columns, props.Rows, props.ScanBytes = pv.Columns, pv.Rows, pv.ScanBytes
		if props.PrimaryKey == "" {
			props.PrimaryKey = guessKey(pv.Columns)
		}
	}
	return props
}

// guessKey preselects a column named like a key.
func guessKey(cols []connectors.Column) string {
	for _, name := range []string{"id", "customer_id", "user_id", "email"} {
		for _, c := range cols {
			if strings.EqualFold(c.Name, name) {
				return c.Name
			}
		}
	}
	return ""
}

// Create saves the model: no duplicate keys, a warning up to 5%, refused above.
func (h *ModelHandler) Create(c echo.Context) error {
	var f modelForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	m, err := h.core.CreateModel(c.Request().Context(), actor(c), f.request())
	if errs, ok := formErrors(err); ok {
		p, perr := h.formProps(c, f)
		if perr != nil {
			return perr
		}
		p.Errors = errs
		// A refused save keeps what the editor had: the preview and the chosen key.
		if f.request().Table != nil || strings.TrimSpace(f.SQL) != "" {
			pv := h.preview(c, f)
			p.Preview = &pv
		}
		return h.render(c, http.StatusUnprocessableEntity, datamodels.NewPage(p), datamodels.Form(p))
	}
	if err != nil {
		return fmt.Errorf("create model: %w", err)
	}
	msg, kind := m.Name+" saved. No duplicate primary keys.", "success"
	if d := m.Duplicates(); d != nil && d.DuplicateRows+d.NullKeys > 0 {
		msg, kind = fmt.Sprintf("%s saved with a warning: %.1f%% of rows share their primary key or have none. Those records will not be sent.", m.Name, d.Percent()), "warning"
	}
	if err := flash(c, kind, msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("models.show", m.ID))
}

// Show is one model: columns, types, issues and where each column is used.
func (h *ModelHandler) Show(c echo.Context) error {
	ctx := c.Request().Context()
	m, err := h.store.ModelByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	src, err := h.store.SourceByID(ctx, workspaceID(c), m.SourceID)
	if err != nil {
		return err
	}
	segs, err := h.store.ListSegments(ctx, workspaceID(c), m.ID)
	if err != nil {
		return err
	}
	used := map[string][]string{}
	for _, g := range segs {
		cond, err := segments.Parse(g.ConditionsJSON)
		if err != nil {
			continue
		}
		for _, col := range cond.Columns() {
			used[col] = append(used[col], "Segment "+g.Name)
		}
	}
	acts, err := h.store.ActivationsOnModels(ctx, workspaceID(c), []string{m.ID})
	if err != nil {
		return err
	}
	for _, am := range acts {
		for _, mp := range am.Activation.Mappings() {
			used[mp.From] = append(used[mp.From], "Mapping of "+am.Activation.Name+" → "+mp.To)
		}
	}
	open, err := h.store.OpenIssues(ctx, workspaceID(c), models.IssueFilterOf(m.ID, ""))
	if err != nil {
		return err
	}
	props := datamodels.ShowProps{Model: m, Source: src, UsedBy: used, Issues: open}
	return h.render(c, http.StatusOK, datamodels.ShowPage(props), nil)
}

// Remap associates a new column with an old one (a column renamed in the warehouse).
func (h *ModelHandler) Remap(c echo.Context) error {
	from, to := c.FormValue("from"), c.FormValue("to")
	r, err := h.core.Remap(c.Request().Context(), actor(c), c.Param("id"), from, to)
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		if ferr := flash(c, "error", fe.Message); ferr != nil {
			return ferr
		}
		return redirect(c, c.Echo().Reverse("models.show", c.Param("id")))
	}
	if err != nil {
		return fmt.Errorf("remap column: %w", err)
	}
	if err := flash(c, "success", remapMessage(r)); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("models.show", r.Model.ID))
}

// Validate compares the model with the warehouse now.
func (h *ModelHandler) Validate(c echo.Context) error {
	m, err := h.core.ValidateModel(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	msg, kind := "The model matches the warehouse.", "success"
	if n := len(m.Issues()); n > 0 {
		msg, kind = fmt.Sprintf("Validation found %d schema issue(s).", n), "error"
	}
	if resumed := h.recheckThresholds(c, []string{m.ID}); len(resumed) > 0 {
		msg += " Back under their source-issue threshold and resumed: " + strings.Join(resumed, ", ") + "."
	}
	if err := flash(c, kind, msg); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("models.show", m.ID))
}

// Duplicates counts duplicate primary keys now.
func (h *ModelHandler) Duplicates(c echo.Context) error {
	m, err := h.core.DetectDuplicates(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := flash(c, "info", "Duplicate primary keys counted again."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("models.show", m.ID))
}

// Delete removes a model no segment uses.
func (h *ModelHandler) Delete(c echo.Context) error {
	m, err := h.store.ModelByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.core.DeleteModel(c.Request().Context(), actor(c), m.ID); err != nil {
		return dependentsMessage(err, m.Name)
	}
	if err := flash(c, "success", m.Name+" was deleted."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("models.index"))
}
