package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"sluice/models"
)

// The Run History tab lists each pause and resume with who and why, automatic ones by
// Sluice included.
func TestRunHistoryShowsPausesAndResumes(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	_, browser := signedInAdmin(t, s.app)
	sys := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "Sluice"}
	why := "paused automatically: column phone is missing from model Customers"
	if _, err := s.app.store.Pause(t.Context(), sys, act.ID, models.PauseCauseSchema, why); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.store.Resume(t.Context(), sys, act.ID, models.PauseCauseSchema); err != nil {
		t.Fatal(err)
	}
	page := browser.get("/activations/"+act.ID+"?tab=runs").want(t, http.StatusOK)
	if n := page.Count(t, "[data-testid=pause-event]"); n != 2 {
		t.Fatalf("%d pause events shown, want 2:\n%s", n, page.Body)
	}
	if text := page.Text(t, "[data-testid=pause-events]"); !strings.Contains(text, why) || !strings.Contains(text, "Sluice") || !strings.Contains(text, "Resumed") {
		t.Errorf("pause events %q, want the reason, Sluice and the resume", text)
	}
}
