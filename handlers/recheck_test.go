package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/models"
)

// "Validate now" on a model, and on its source through the API, re-checks the threshold
// pauses of the activations reading it: data back under the threshold resumes them.
func TestValidateNowRechecksThresholdPauses(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	act := s.activation(t, "Newsletter")
	sys := models.Actor{WorkspaceID: models.DefaultWorkspaceID, Type: models.ActorSystem, Name: "Sluice"}
	pause := func() {
		t.Helper()
		if _, err := s.app.store.Pause(t.Context(), sys, act.ID, models.PauseCauseThreshold, "paused automatically: 40.0% of rows had source issues in the last run (threshold 10.0%). Fix the data, then resume."); err != nil {
			t.Fatal(err)
		}
	}
	status := func() string {
		t.Helper()
		a, err := s.app.store.ActivationByID(t.Context(), models.DefaultWorkspaceID, act.ID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}

	pause()
	_, browser := signedInAdmin(t, s.app)
	token := browser.csrf("/models/" + s.model.ID)
	r := browser.post("/models/"+s.model.ID+"/validate", url.Values{"_csrf": {token}}).want(t, http.StatusSeeOther)
	if got := status(); got != models.ActivationActive {
		t.Fatalf("after Validate now on the model the activation is %s, want resumed (the data is clean)", got)
	}
	if flash := browser.get(r.Location()).Text(t, "#flash"); !strings.Contains(flash, "resumed: Newsletter") {
		t.Errorf("flash %q should name the resumed activation", flash)
	}

	pause()
	s.admin.post("/sources/"+s.source.ID+"/validate", nil).want(t, http.StatusOK)
	if got := status(); got != models.ActivationActive {
		t.Fatalf("after validating the source through the API the activation is %s, want resumed", got)
	}
}
