package handlers

import (
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/components"
)

// dependencyWarnings are the open validation issues a segment or an activation depends
// on, in plain words saying why they matter here: its source's failing checks, its
// model's table or query gone, duplicate keys, and the issues of the columns it uses
// (worked out from core's lineage). sm is the segment's model and source;
// activationID is "" on a segment's page. The model itself is read only when it has
// open issues.
func (s *Server) dependencyWarnings(c echo.Context, sm models.SegmentModel, segmentID, activationID string) ([]components.DependencyWarning, error) {
	ctx := c.Request().Context()
	ws := workspaceID(c)
	open, err := s.store.OpenIssuesByObject(ctx, ws, []string{sm.SourceID, sm.ModelID})
	if err != nil {
		return nil, err
	}
	var out []components.DependencyWarning
	if len(open[sm.SourceID]) > 0 {
		src, err := s.store.SourceByID(ctx, ws, sm.SourceID)
		if err != nil {
			return nil, err
		}
		for _, is := range open[sm.SourceID] {
			out = append(out, components.DependencyWarning{Text: is.Message,
				Href: c.Echo().Reverse("sources.show", src.ID), LinkText: "Open source " + src.Name})
		}
	}
	if len(open[sm.ModelID]) == 0 {
		return out, nil
	}
	m, err := s.store.ModelByID(ctx, ws, sm.ModelID)
	if err != nil {
		return nil, err
	}
	uses, err := s.core.Lineage(ctx, ws, m)
	if err != nil {
		return nil, err
	}
	here := "this segment"
	if activationID != "" {
		here = "this activation"
	}
	link := c.Echo().Reverse("models.show", m.ID)
	for _, is := range open[m.ID] {
		var text string
		switch {
		case is.Column == "":
			text = fmt.Sprintf("The table or query of model %s no longer resolves: %s reads it.", m.Name, here)
		case is.Kind == models.IssueDuplicateKeys:
			text = is.Message
		default:
			why := columnUses(uses, is.Column, segmentID, activationID)
			if why == "" {
				continue // a column this segment or activation does not use
			}
			text = fmt.Sprintf("%s %s of model %s %s: %s.", columnWord(m, is.Column), is.Column, m.Name, kindWords(is.Kind), why)
		}
		out = append(out, components.DependencyWarning{Text: text, Href: link, LinkText: "Open model " + m.Name})
	}
	return out, nil
}

// columnUses says how the segment or the activation uses a column, "" when it does not.
func columnUses(uses []core.ColumnUse, column, segmentID, activationID string) string {
	var parts []string
	seen := map[string]bool{}
	for _, u := range uses {
		if u.Column != column {
			continue
		}
		var part string
		switch {
		case activationID != "" && u.ActivationID == activationID:
			switch u.Via {
			case core.UseMapping:
				part = "this activation's mapping uses it"
			case core.UseCondition:
				part = "this activation's segment uses it in its conditions"
			case core.UsePrimaryKey:
				part = "this activation matches records by it"
			}
		case activationID == "" && u.SegmentID == segmentID:
			switch u.Via {
			case core.UseCondition:
				part = "this segment's conditions use it"
			case core.UseMapping:
				part = "the mapping of activation " + u.ActivationName + " uses it"
			case core.UsePrimaryKey:
				part = "activation " + u.ActivationName + " matches records by it"
			}
		}
		if part != "" && !seen[part] {
			seen[part] = true
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, "; ")
}

func columnWord(m *models.DataModel, column string) string {
	if column == m.PrimaryKey {
		return "Primary key"
	}
	return "Column"
}

// kindWords says what happened to a column, by the issue's kind.
func kindWords(kind string) string {
	switch kind {
	case models.IssueMissing:
		return "is missing"
	case models.IssueAltered:
		return "is missing (renamed or dropped)"
	case models.IssueWrongType:
		return "changed type"
	}
	return "has an issue"
}
