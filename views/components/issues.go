package components

import (
	"fmt"

	"sluice/connectors"
	"sluice/models"
)

// DependencyWarning is an open validation issue seen from something that depends on it
// (a segment, an activation): what is wrong and why it matters here, in plain words, and
// the page where it is fixed.
type DependencyWarning struct {
	Text     string
	Href     string
	LinkText string
}

// IssueKindLabel names a validation issue's kind as the seed does.
func IssueKindLabel(kind string) string {
	switch kind {
	case models.IssueMissing:
		return "Missing"
	case models.IssueAltered:
		return "Altered"
	case models.IssueWrongType:
		return "Wrong Type"
	case models.IssueDuplicateKeys:
		return "Duplicate keys"
	}
	return StageLabel(connectors.Stage(kind))
}

// issueCount says how many issues are open.
func issueCount(n int) string {
	if n == 1 {
		return "1 issue"
	}
	return fmt.Sprintf("%d issues", n)
}
