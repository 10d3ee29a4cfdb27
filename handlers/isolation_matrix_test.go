package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"sluice/models"
)

// isolationKinds names the object an :id stands for, by the path segment before it
// (/sources/:id/test is a source). A route whose :id follows a segment not listed here
// fails TestIsolationMatrixCoversEveryRoute until it is added.
var isolationKinds = map[string]string{
	"sources": "source", "models": "model", "segments": "segment", "platforms": "platform",
	"activations": "activation", "runs": "run", "users": "user", "owners": "user",
	"sessions": "session", "tokens": "token", "invitations": "invitation", "workspaces": "workspace",
}

// isolationKindParams are routes whose :kind parameter says what their :id is, with
// every kind they take.
var isolationKindParams = map[string][]string{
	"/copy/:kind/:id": {"model", "segment", "activation"},
}

// isolationExempt are parameterized routes whose parameters are not objects of a
// workspace, each with the reason.
var isolationExempt = map[string]string{
	"/saml/metadata/:org": "public by design: an identity provider reads an organization's SAML metadata without signing in",
	"/saml/acs/:org":      "the identity provider's form posts here without a session; the assertion is checked against that organization's own settings",
}

// badQuery holds a value no handler accepts for each query parameter that some handler
// validates.
const badQuery = "?stage=bogus&limit=-1&cursor=%21&shown=x&target=x&confirm=x&level=x&key="

// isolationTarget is one request of the matrix: a route filled with workspace A's objects.
type isolationTarget struct {
	method, route, path string
}

// isolationTargets fills every parameterized route of e with ids (kind → workspace A's
// object), and lists the routes it cannot fill.
func isolationTargets(routes [][2]string, ids map[string]string) (targets []isolationTarget, unmapped []string) {
	for _, r := range routes {
		method, route := r[0], r[1]
		if !strings.Contains(route, ":") {
			continue
		}
		if _, ok := isolationExempt[route]; ok {
			continue
		}
		kinds := isolationKindParams[route]
		if kinds == nil {
			kinds = []string{""}
		}
		for _, kind := range kinds {
			segs := strings.Split(route, "/")
			ok := true
			for i, seg := range segs {
				if !strings.HasPrefix(seg, ":") {
					continue
				}
				switch {
				case seg == ":kind" && kind != "":
					segs[i] = kind
				case seg == ":id" && kind != "":
					segs[i] = ids[kind]
				case seg == ":id" && i > 0 && isolationKinds[segs[i-1]] != "":
					segs[i] = ids[isolationKinds[segs[i-1]]]
				default:
					ok = false
				}
			}
			if !ok {
				unmapped = append(unmapped, method+" "+route)
				break
			}
			targets = append(targets, isolationTarget{method, route, strings.Join(segs, "/")})
		}
	}
	return targets, unmapped
}

// TestIsolationMatrixCoversEveryRoute: every route of the app whose path names an object
// is called from workspace B on workspace A's object of that kind, with each method it
// is registered for (pages as B's admin and owner in a browser, with CSRF, plain and
// htmx; the JSON API with B's owner's admin token), with an empty form or body and again
// with a query no handler accepts, and answers 404, leaving A as it was: the object is
// looked up in the actor's workspace before any input is checked. A new parameterized route fails here until its parameter is mapped to a kind or
// allow-listed with a reason.
func TestIsolationMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	var routes [][2]string
	for _, r := range apiEcho(t).Routes() {
		if slices.Contains(httpMethods, r.Method) && !strings.HasSuffix(r.Path, "*") {
			routes = append(routes, [2]string{r.Method, r.Path})
		}
	}
	slices.SortFunc(routes, func(a, b [2]string) int { return strings.Compare(a[1]+" "+a[0], b[1]+" "+b[0]) })
	routes = slices.Compact(routes)

	eachRunFixture(t, func(t *testing.T, f *runFixture) {
		ctx := t.Context()
		s, wsA := f.app.store, models.DefaultWorkspaceID
		run := f.startRun(t)
		sys := models.Actor{WorkspaceID: wsA, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin}
		dave, err := s.CreateUser(ctx, sys, models.NewUser{Email: "dave@acme.example", Password: "correct horse battery", Role: models.RoleEditor})
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := s.InviteUser(ctx, sys, "eve@acme.example", models.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		tokA, _, err := s.CreateAPIToken(ctx, sys, "acme ci", models.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		sessA, err := s.ListSessions(ctx, wsA)
		if err != nil || len(sessA) == 0 {
			t.Fatalf("sessions of A: %v %v", sessA, err)
		}
		ids := map[string]string{
			"source": f.source.ID, "model": f.model.ID, "segment": f.segment.ID, "platform": f.platform.ID,
			"activation": f.act.ID, "run": run.ID, "user": dave.ID, "session": sessA[0].ID, "token": tokA.ID,
			"invitation": inv.ID, "workspace": wsA,
		}

		// Workspace B is another tenant; its first admin owns its organization, and that
		// owner's admin token may manage workspaces: no role check stops a request
		// before the workspace's own lookup does.
		wsB, err := s.CreateWorkspace(ctx, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		owner, err := s.CreateUser(ctx, models.Actor{WorkspaceID: wsB.ID, Type: models.ActorSystem, Name: "test", Role: models.RoleAdmin},
			models.NewUser{Email: "gina@globex.example", Password: "correct horse battery", Role: models.RoleAdmin})
		if err != nil || !owner.Owner {
			t.Fatalf("B's first admin: %+v %v", owner, err)
		}
		_, tokB, err := s.CreateAPIToken(ctx, models.Actor{WorkspaceID: wsB.ID, Type: models.ActorUser, ID: owner.ID, Name: owner.Email, Role: models.RoleAdmin}, "globex ci", models.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		b := f.app.client(t)
		b.signIn(owner.Email, "correct horse battery")
		csrf := b.csrf("/activations")
		api := f.app.whClient(t, tokB)

		before := isolationSnapshot(t, s, ids)
		targets, unmapped := isolationTargets(routes, ids)
		for _, u := range unmapped {
			t.Errorf("%s: a parameter names no object kind; map it in isolationKinds (or isolationKindParams), or allow-list it in isolationExempt with the reason", u)
		}
		if len(targets) < 80 {
			t.Fatalf("only %d requests in the matrix", len(targets))
		}
		for _, tg := range targets {
			var answers []*response
			if strings.HasPrefix(tg.route, apiPrefix+"/") {
				var body any
				if tg.method != http.MethodGet && tg.method != http.MethodDelete {
					body = map[string]any{}
				}
				answers = append(answers, api.call(tg.method, strings.TrimPrefix(tg.path, apiPrefix), body),
					api.call(tg.method, strings.TrimPrefix(tg.path, apiPrefix)+badQuery, body))
			} else {
				var form url.Values
				if tg.method != http.MethodGet {
					form = url.Values{"_csrf": {csrf}}
				}
				answers = append(answers,
					b.do(tg.method, tg.path, form, "X-CSRF-Token", csrf),
					b.do(tg.method, tg.path, form, "X-CSRF-Token", csrf, "HX-Request", "true"),
					// What a handler validates must not answer before the lookup does.
					b.do(tg.method, tg.path+badQuery, form, "X-CSRF-Token", csrf, "HX-Request", "true"))
			}
			for i, r := range answers {
				if r.Status != http.StatusNotFound {
					body := r.Body
					if len(body) > 300 {
						body = body[:300] + "…"
					}
					t.Errorf("%s %s (%s, request %d) from workspace B: %d, want 404 (Location %q)\n%s", tg.method, tg.path, tg.route, i+1, r.Status, r.Location(), body)
				}
			}
		}
		if !b.signedIn() {
			t.Fatal("B's admin was signed out by the matrix")
		}
		if after := isolationSnapshot(t, s, ids); after != before {
			t.Errorf("workspace A changed under B's requests:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// isolationSnapshot is what workspace A's objects look like: when each was last changed,
// what counts of runs, tokens, sessions and invitations it has, and its newest audit entry.
func isolationSnapshot(t *testing.T, s *models.Store, ids map[string]string) string {
	t.Helper()
	ctx, ws := t.Context(), models.DefaultWorkspaceID
	var out []string
	add := func(name string, v any, err error) {
		if err != nil {
			out = append(out, name+": "+err.Error())
			return
		}
		out = append(out, fmt.Sprintf("%s=%v", name, v))
	}
	src, err := s.SourceByID(ctx, ws, ids["source"])
	if err == nil {
		add("source", src.UpdatedAt.UnixNano(), nil)
	} else {
		add("source", nil, err)
	}
	m, err := s.ModelByID(ctx, ws, ids["model"])
	if err == nil {
		add("model", m.UpdatedAt.UnixNano(), nil)
	} else {
		add("model", nil, err)
	}
	g, err := s.SegmentByID(ctx, ws, ids["segment"])
	if err == nil {
		add("segment", g.UpdatedAt.UnixNano(), nil)
	} else {
		add("segment", nil, err)
	}
	p, err := s.PlatformByID(ctx, ws, ids["platform"])
	if err == nil {
		add("platform", p.UpdatedAt.UnixNano(), nil)
	} else {
		add("platform", nil, err)
	}
	act, err := s.ActivationByID(ctx, ws, ids["activation"])
	if err == nil {
		add("activation", fmt.Sprintf("%d/%s", act.UpdatedAt.UnixNano(), act.Status), nil)
	} else {
		add("activation", nil, err)
	}
	r, err := s.RunByID(ctx, ws, ids["run"])
	if err == nil {
		add("run", fmt.Sprintf("%s/%t", r.Status, r.CancelRequested), nil)
	} else {
		add("run", nil, err)
	}
	runs, err := s.ListRuns(ctx, ws, ids["activation"], 100)
	add("runs", len(runs), err)
	u, err := s.UserByID(ctx, ws, ids["user"])
	if err == nil {
		add("user", fmt.Sprintf("%s/%t/%d", u.Role, u.Owner, u.UpdatedAt.UnixNano()), nil)
	} else {
		add("user", nil, err)
	}
	invs, err := s.ListInvitations(ctx, ws)
	var invState []string
	for _, i := range invs {
		invState = append(invState, fmt.Sprintf("%s/%d/%t", i.ID, i.SentAt.UnixNano(), i.RevokedAt != nil))
	}
	add("invitations", invState, err)
	toks, err := s.ListAPITokens(ctx, ws)
	add("tokens", len(toks), err)
	sess, err := s.ListSessions(ctx, ws)
	add("sessions", len(sess), err)
	w, err := s.WorkspaceByID(ctx, ws)
	if err == nil {
		add("workspace", w.Name, nil)
	} else {
		add("workspace", nil, err)
	}
	audit, _, err := s.ListAuditEntries(ctx, ws, models.AuditFilter{Limit: 1})
	if err == nil && len(audit) > 0 {
		add("audit", audit[0].ID, nil)
	} else {
		add("audit", len(audit), err)
	}
	return strings.Join(out, " ")
}
