package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"sluice/models"
)

type copyBody struct {
	DryRun          bool                      `json:"dry_run"`
	TargetWorkspace struct{ ID, Name string } `json:"target_workspace"`
	Items           []struct {
		Kind, Name, Note string
		ID               *string
	} `json:"items"`
	Mappings []struct {
		Kind   string  `json:"kind"`
		ToID   *string `json:"to_id"`
		ByName bool    `json:"by_name"`
	} `json:"mappings"`
	Problem *struct{ Field, Message string } `json:"problem"`
}

// TestCopyAPI: POST /api/v1/copies previews (dry_run) and makes a copy of an activation
// with its segment and model, from the token's workspace into the workspace of the
// Sluice-Target-Token; a copy refused as mapped says why (200 in the preview, 422 for
// real) and creates nothing; roles below editor on either side, a missing or wrong
// target token, another organization's workspace and the same workspace are refused.
// Every answer matches the OpenAPI document.
func TestCopyAPI(t *testing.T) {
	t.Parallel()
	eachApp(t, func(t *testing.T, a *app) {
		ctx := t.Context()
		s := a.store
		ada, _ := signedInAdmin(t, a)
		w := newCopySetup(t, a, ada)
		lake := w.lake(t, a)
		acmeEditor := whToken(t, s, w.acme.WorkspaceID, models.RoleEditor)
		prodEditor := whToken(t, s, w.prod.ID, models.RoleEditor)
		api := a.whClient(t, acmeEditor).with("Sluice-Target-Token", prodEditor)
		doc := copyDocValidator(t, a)
		call := func(c whClient, body any, want int) *response {
			t.Helper()
			r := c.post("/copies", body).want(t, want)
			doc(t, c, body, r)
			return r
		}
		ask := map[string]any{"kind": "activation", "id": w.act.ID, "dry_run": true}

		pv := into[copyBody](t, call(api, ask, http.StatusOK))
		var got []string
		for _, it := range pv.Items {
			got = append(got, it.Kind+" "+it.Name+" — "+it.Note)
			if it.ID != nil {
				t.Errorf("preview item %s has an id", it.Name)
			}
		}
		want := "model Customers — new, segment French VIPs — new, activation VIP sync — new, paused until someone resumes it"
		if strings.Join(got, ", ") != want || pv.Problem != nil || !pv.DryRun || pv.TargetWorkspace.ID != w.prod.ID {
			t.Errorf("preview %+v, want %s", pv, want)
		}
		if len(pv.Mappings) != 2 || !pv.Mappings[0].ByName || *pv.Mappings[0].ToID != w.srcs[1].ID || *pv.Mappings[1].ToID != w.hooks[1].ID {
			t.Errorf("mappings %+v, want Production's Warehouse and Hook by name", pv.Mappings)
		}

		// Onto Lake, whose customers lack country: the preview says why, the copy is 422.
		onLake := map[string]any{"kind": "activation", "id": w.act.ID, "source_id": lake.ID, "dry_run": true}
		refused := into[copyBody](t, call(api, onLake, http.StatusOK))
		if refused.Problem == nil || refused.Problem.Field != "source_id" || refused.Problem.Message != "Column country of model Customers is missing from source Lake." {
			t.Errorf("problem %+v", refused.Problem)
		}
		onLake["dry_run"] = false
		if e := apiErrorOf(t, call(api, onLake, http.StatusUnprocessableEntity)); e.Field != "source_id" || !strings.Contains(e.Message, "missing from source Lake") {
			t.Errorf("refused copy: %+v", e)
		}

		// Refusals, none of which creates anything.
		viewerThere := whToken(t, s, w.prod.ID, models.RoleViewer)
		globexID, globexTk := otherWorkspaceToken(t, a)
		for _, c := range []struct {
			name   string
			client whClient
			status int
		}{
			{"no target token", a.whClient(t, acmeEditor), http.StatusUnauthorized},
			{"a wrong target token", api.with("Sluice-Target-Token", "slu_nope"), http.StatusUnauthorized},
			{"a target token of this same workspace", api.with("Sluice-Target-Token", acmeEditor), http.StatusUnauthorized},
			{"a target token of another organization", api.with("Sluice-Target-Token", globexTk), http.StatusUnauthorized},
			{"a viewer's target token", api.with("Sluice-Target-Token", viewerThere), http.StatusForbidden},
			{"a viewer's token here", api.as(whToken(t, s, w.acme.WorkspaceID, models.RoleViewer)), http.StatusForbidden},
		} {
			r := call(c.client, map[string]any{"kind": "activation", "id": w.act.ID}, c.status)
			if strings.Contains(r.Body, prodEditor) || strings.Contains(r.Body, globexTk) {
				t.Errorf("%s: the answer shows a token", c.name)
			}
		}
		if e := apiErrorOf(t, call(api, map[string]any{"kind": "source", "id": w.srcs[0].ID}, http.StatusUnprocessableEntity)); e.Field != "kind" {
			t.Errorf("kind source: %+v", e)
		}
		call(api, map[string]any{"kind": "model", "id": "nope"}, http.StatusNotFound)
		if n := countIn(t, s, w.prod.ID) + countIn(t, s, globexID); n != 0 {
			t.Fatalf("refused copies created %d activations", n)
		}

		made := into[copyBody](t, call(api, map[string]any{"kind": "activation", "id": w.act.ID}, http.StatusCreated))
		if made.DryRun || made.Problem != nil || len(made.Items) != 3 || made.Items[2].ID == nil {
			t.Fatalf("made %+v", made)
		}
		copied, err := s.ActivationByID(ctx, w.prod.ID, *made.Items[2].ID)
		if err != nil || copied.Status != models.ActivationPaused || copied.PlatformID != w.hooks[1].ID {
			t.Errorf("the copy in Production: %+v %v", copied, err)
		}
		if g, err := s.SegmentByID(ctx, w.prod.ID, copied.SegmentID); err != nil || g.ID != *made.Items[1].ID || g.ModelID != *made.Items[0].ID {
			t.Errorf("the copied segment: %+v %v", g, err)
		}
		again := into[copyBody](t, call(api, ask, http.StatusOK))
		if again.Items[2].Name != "VIP sync (copy)" {
			t.Errorf("a second copy would be called %q", again.Items[2].Name)
		}
		es, _, err := s.ListAuditEntries(ctx, w.prod.ID, models.AuditFilter{Limit: 10})
		if err != nil || len(es) == 0 || es[0].ActorType != models.ActorToken {
			t.Errorf("Production's audit by %+v (%v), want the target token", es, err)
		}
	})
}

// copyDocValidator checks a call of POST /copies, accepted request and any answer,
// against handlers/openapi.json.
func copyDocValidator(t *testing.T, a *app) func(t *testing.T, c whClient, body any, r *response) {
	doc, err := libopenapi.NewDocument(openAPIDoc(t, a))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return func(t *testing.T, c whClient, body any, r *response) {
		t.Helper()
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "http://sluice.test"+apiPrefix+"/copies", bytes.NewReader(raw))
		req.Header = c.header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/json")
		if r.Status < 300 {
			if ok, verrs := v.ValidateHttpRequestSync(req); !ok {
				for _, e := range verrs {
					t.Errorf("the document refuses this accepted request: %s: %s", e.Message, e.Reason)
				}
			}
		}
		res := &http.Response{StatusCode: r.Status, Header: r.Header, Body: io.NopCloser(strings.NewReader(r.Body)), Request: req}
		if ok, verrs := v.ValidateHttpResponse(req, res); !ok {
			for _, e := range verrs {
				t.Errorf("POST /copies (%d) does not match the document: %s: %s", r.Status, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
				}
			}
		}
	}
}
