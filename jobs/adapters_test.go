package jobs_test

import (
	"testing"

	"sluice/engine"
	"sluice/models"
)

// The store folds a crashed run's intents into the engine's pending marks.
func TestPendingMarksAgree(t *testing.T) {
	if engine.PendingAdded != models.PendingAdded || engine.PendingChanged != models.PendingChanged {
		t.Fatalf("the store's pending marks (%d, %d) are not the engine's (%d, %d)",
			models.PendingAdded, models.PendingChanged, engine.PendingAdded, engine.PendingChanged)
	}
}
