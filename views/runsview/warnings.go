package runsview

import "sluice/models"

// SyncWarningLabel names a sync warning's kind.
func SyncWarningLabel(kind string) string {
	switch kind {
	case models.WarnSourceIssues:
		return "Source issues"
	case models.WarnColumnType:
		return "Column type changed"
	case models.WarnDuplicateKeys:
		return "Duplicate keys"
	case models.WarnSlowRun:
		return "Slower than usual"
	case models.WarnAudienceDrop:
		return "Audience dropped"
	}
	return "Warning"
}
