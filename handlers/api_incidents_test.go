package handlers_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"sluice/internal/testutil"
	"sluice/models"
)

type incidentList struct {
	Items []struct {
		ID          string     `json:"id"`
		ObjectType  string     `json:"object_type"`
		ObjectID    string     `json:"object_id"`
		Category    string     `json:"category"`
		Message     string     `json:"message"`
		OpenedAt    time.Time  `json:"opened_at"`
		ResolvedAt  *time.Time `json:"resolved_at"`
		Occurrences int        `json:"occurrences"`
	} `json:"items"`
}

// GET /api/v1/incidents lists open or resolved incidents with their occurrences, and
// refuses a status it does not know.
func TestIncidentsAPI(t *testing.T) {
	eachApp(t, func(t *testing.T, a *app) {
		_, admin := testutil.Admin(t, a.store)
		ctx := t.Context()
		ev := models.IncidentEvent{WorkspaceID: admin.WorkspaceID, ObjectType: models.IncidentActivation, ObjectID: "act1", ObjectName: "VIP",
			Event: models.EventRunFailed, Category: "rate_limit", Message: "The platform said slow down."}
		for range 3 {
			if _, err := a.store.OpenIncident(ctx, ev, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		ev.ObjectID = "act2"
		if _, err := a.store.OpenIncident(ctx, ev, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.ResolveIncidents(ctx, admin.WorkspaceID, models.IncidentActivation, "act2", models.EventRunFailed, nil, nil); err != nil {
			t.Fatal(err)
		}
		token := whToken(t, a.store, admin.WorkspaceID, models.RoleViewer)
		c := a.client(t)
		var got incidentList
		if err := json.Unmarshal([]byte(c.api("/api/v1/incidents?status=open", token).want(t, http.StatusOK).Body), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 1 || got.Items[0].ObjectID != "act1" || got.Items[0].Occurrences != 3 || got.Items[0].Category != "rate_limit" ||
			got.Items[0].ResolvedAt != nil || got.Items[0].ObjectType != "activation" {
			t.Fatalf("open: %+v", got)
		}
		got = incidentList{}
		if err := json.Unmarshal([]byte(c.api("/api/v1/incidents?status=resolved", token).want(t, http.StatusOK).Body), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 1 || got.Items[0].ObjectID != "act2" || got.Items[0].ResolvedAt == nil {
			t.Fatalf("resolved: %+v", got)
		}
		c.api("/api/v1/incidents?status=maybe", token).want(t, http.StatusUnprocessableEntity)
	})
}
