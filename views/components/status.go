package components

import (
	"strings"

	"sluice/connectors"
	"sluice/models"
)

// StatusBadgeClass colours a status word: connected/valid green, warning amber,
// broken red, anything else grey.
func StatusBadgeClass(status string) string {
	switch status {
	case "connected", "valid", "healthy", "succeeded":
		return "badge badge-dot badge-green"
	case "warning":
		return "badge badge-dot badge-amber"
	case "broken", "failed":
		return "badge badge-dot badge-red"
	}
	return "badge badge-dot badge-gray"
}

// StatusLabel is a status as users read it.
func StatusLabel(status string) string {
	switch status {
	case "unknown":
		return "Not validated"
	case "connected":
		return "Connected"
	case "broken":
		return "Broken"
	case "valid":
		return "Valid"
	case "warning":
		return "Warning"
	case "healthy":
		return "Healthy"
	case "failed":
		return "Failed"
	case "never_run":
		return "Never run"
	}
	return status
}

// StageLabel names a validation stage as the seed does.
func StageLabel(s connectors.Stage) string {
	switch s {
	case connectors.StageConnection:
		return "Connection test"
	case connectors.StageAccess:
		return "Access verification"
	case connectors.StageSchema:
		return "Schema existence"
	case connectors.StageGrants:
		return "Grants on databases, schemas and views"
	case connectors.StageLineage:
		return "Data lineage"
	}
	return string(s)
}

// PauseReason is why an activation is paused, as a sentence (the paused badge's hover
// text and the activation page's banner).
func PauseReason(a models.Activation) string {
	if a.PauseReason == "" {
		return "Paused by hand."
	}
	r := strings.TrimPrefix(a.PauseReason, "paused automatically: ")
	return strings.ToUpper(r[:1]) + r[1:]
}
