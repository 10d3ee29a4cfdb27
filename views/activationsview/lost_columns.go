package activationsview

import (
	"context"
	"net/url"
	"strings"

	"sluice/models"
	"sluice/views/components"
)

// lostColumn is the model's open issue saying a column is no longer in the warehouse
// (Altered or Missing), as the last validation found it: the stored snapshot still lists
// the column, so the mapping step marks it rather than reading the warehouse each time.
func (p WizardProps) lostColumn(name string) (models.ModelIssue, bool) {
	if p.Model == nil {
		return models.ModelIssue{}, false
	}
	for _, i := range p.Model.Issues() {
		if i.Column == name && (i.Kind == models.IssueAltered || i.Kind == models.IssueMissing) {
			return i, true
		}
	}
	return models.ModelIssue{}, false
}

// lostColumns are the model's columns no longer in the warehouse.
func (p WizardProps) lostColumns() []string {
	var out []string
	for _, c := range p.columns() {
		if _, ok := p.lostColumn(c.Name); ok {
			out = append(out, c.Name)
		}
	}
	return out
}

// remapURL opens the remap wizard for a lost column of the wizard's model.
func (p WizardProps) remapURL(ctx context.Context, column string) string {
	return components.URL(ctx, "models.remap.wizard", p.Model.ID) + "?column=" + url.QueryEscape(column)
}

// joinNames lists names in a sentence: "a", "a and b", "a, b and c".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
