package handlers_test

import (
	"bytes"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/destinations/webhook"
	"sluice/internal/testutil"
	"sluice/models"
	"sluice/secrets"
	"sluice/sources/postgres"
	"sluice/sources/sqlite"
)

// confinedApp is the app as main wires it: a data dir holding Sluice's own database
// (on SQLite), SQLite sources confined to its warehouses directory, the own database
// refused. It answers the app and the data dir.
func confinedApp(t *testing.T, dbURL string) (*app, string) {
	t.Helper()
	data := t.TempDir()
	var own []string
	if path, ok := strings.CutPrefix(dbURL, "sqlite://"); ok {
		data = filepath.Dir(path)
		own = append(own, path)
	}
	if err := os.MkdirAll(sqlite.Dir(data), 0o700); err != nil {
		t.Fatal(err)
	}
	s := testutil.Store(t, dbURL)
	box, err := secrets.New(bytes.Repeat([]byte{0x5a}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	reg := connectors.NewRegistry()
	reg.RegisterSource(sqlite.New(sqlite.Dir(data), own...))
	reg.RegisterSource(postgres.New())
	reg.RegisterDestination(webhook.New(true))
	e, runner := handlersFor(s, box, config.Default(), reg)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &app{store: s, url: srv.URL, runner: runner}, data
}

// sqliteFile writes a SQLite file with a users table holding a password hash.
func sqliteFile(t *testing.T, path, hash string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`CREATE TABLE users (email TEXT, password_hash TEXT)`, `INSERT INTO users VALUES ('ada@example.com', '` + hash + `')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// Through the API and the model editor, an admin cannot make a SQLite source of
// Sluice's own database or of any file outside the warehouses directory, and an editor
// cannot reach them through a model's SQL. Every refusal reads the same, so none tells
// which files exist on the server.
func TestSQLiteSourcesStayInTheWarehousesDir(t *testing.T) {
	t.Parallel()
	for _, d := range testutil.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			dbURL := d.URL(t)
			a, data := confinedApp(t, dbURL)
			dir := sqlite.Dir(data)
			refusal := "Sluice can only read SQLite database files in " + dir + ". Put the file there and give its name."
			user, browser := signedInAdmin(t, a) // a user with a password hash in Sluice's database
			admin := a.whClient(t, whToken(t, a.store, models.DefaultWorkspaceID, models.RoleAdmin))
			editor := admin.as(whToken(t, a.store, models.DefaultWorkspaceID, models.RoleEditor))

			const outsideHash = "$2a$10$outside-the-warehouses-dir"
			outside := filepath.Join(t.TempDir(), "elsewhere.db")
			sqliteFile(t, outside, outsideHash)
			sqliteFile(t, filepath.Join(dir, "ok.db"), "$2a$10$inside")
			own := filepath.Join(data, "sluice.db")
			if err := os.Symlink(outside, filepath.Join(dir, "outside-link.db")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(own, filepath.Join(dir, "own-link.db")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "folder.db"), 0o700); err != nil {
				t.Fatal(err)
			}
			hidden := []string{outsideHash, user.PasswordHash, "$2a$", "$argon2"}
			noSecret := func(where, body string) {
				t.Helper()
				for _, s := range hidden {
					if s != "" && strings.Contains(body, s) {
						t.Errorf("%s shows %q", where, s)
					}
				}
				for _, tell := range []string{"does not exist", "not a database", "not a SQLite database", "is a directory", "no such file", "permission denied"} {
					if strings.Contains(strings.ToLower(body), tell) {
						t.Errorf("%s tells %q: %s", where, tell, body)
					}
				}
			}

			paths := map[string]string{
				"Sluice's own database":              own,
				"Sluice's own database, relative":    "../sluice.db",
				"an escape":                          "../../../../../../../../../etc/passwd",
				"an escape from inside":              filepath.Join(dir, "..", "sluice.db"),
				"a file outside":                     outside,
				"a symlink to a file outside":        "outside-link.db",
				"a symlink to Sluice's own database": "own-link.db",
				"a missing file":                     "missing.db",
				"a missing file outside":             filepath.Join(data, "missing.db"),
				"a directory":                        "folder.db",
			}
			i := 0
			for name, path := range paths {
				i++
				src := into[sourceBody](t, admin.post("/sources", map[string]any{"name": "S" + string(rune('a'+i)), "kind": "sqlite", "config": map[string]any{"path": path}}).want(t, http.StatusCreated))
				if src.Status != models.SourceBroken || len(src.Checks) != 5 || src.Checks[0].Message != refusal {
					t.Errorf("%s: source %+v, want broken with %q", name, src, refusal)
				}
				noSecret(name+": POST /sources", lastBody(admin))

				r := editor.post("/models", map[string]any{"source_id": src.ID, "name": "Stolen " + src.Name, "sql": "select email, password_hash from users", "primary_key": "email"})
				if r.Status == http.StatusCreated {
					t.Errorf("%s: a model was created on the refused source: %s", name, r.Body)
				}
				if !strings.Contains(r.Body, refusal) {
					t.Errorf("%s: POST /models answered %d %s, want the refusal", name, r.Status, r.Body)
				}
				noSecret(name+": POST /models", r.Body)

				form := url.Values{"_csrf": {browser.csrf("/models/new")}, "source_id": {src.ID}, "mode": {"sql"}, "sql": {"select email, password_hash from users"}}
				pv := browser.post("/models/preview", form)
				if !strings.Contains(pv.Body, refusal) {
					t.Errorf("%s: preview answered %d %s, want the refusal", name, pv.Status, pv.Body)
				}
				noSecret(name+": preview", pv.Body)
			}

			// A file in the directory, named by its name, works.
			ok := into[sourceBody](t, admin.post("/sources", map[string]any{"name": "Demo", "kind": "sqlite", "config": map[string]any{"path": "ok.db"}}).want(t, http.StatusCreated))
			if ok.Status != models.SourceConnected {
				t.Fatalf("a file in the warehouses directory: %+v", ok)
			}
			editor.post("/models", map[string]any{"source_id": ok.ID, "name": "Users", "sql": "select email from users", "primary_key": "email"}).want(t, http.StatusCreated)
			// Its models cannot reach another file: ATTACH needs a second statement.
			for _, q := range []string{
				"select email from users) x; attach '" + own + "' as own; select email, password_hash from own.users where (1",
				"select email from users) x; attach '" + outside + "' as o; select email, password_hash from o.users where (1",
			} {
				r := editor.post("/models", map[string]any{"source_id": ok.ID, "name": "Attach", "sql": q, "primary_key": "email"})
				if r.Status == http.StatusCreated {
					t.Errorf("ATTACH model created: %s", r.Body)
				}
				noSecret("ATTACH model", r.Body)
				form := url.Values{"_csrf": {browser.csrf("/models/new")}, "source_id": {ok.ID}, "mode": {"sql"}, "sql": {q}}
				pv := browser.post("/models/preview", form)
				if !strings.Contains(pv.Body, "A SQLite model runs one SELECT statement") {
					t.Errorf("ATTACH preview answered %d %s", pv.Status, pv.Body)
				}
				noSecret("ATTACH preview", pv.Body)
			}
		})
	}
}

// lastBody is the body of the client's latest answer.
func lastBody(c whClient) string { b := *c.bodies; return b[len(b)-1] }
