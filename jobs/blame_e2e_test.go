package jobs_test

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/models"
)

// source is the world's source, read again.
func (w *world) source() *models.Source {
	w.t.Helper()
	seg, err := w.store.SegmentByID(w.ctx, w.admin.WorkspaceID, w.act.SegmentID)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := w.store.ModelByID(w.ctx, w.admin.WorkspaceID, seg.ModelID)
	if err != nil {
		w.t.Fatal(err)
	}
	src, err := w.store.SourceByID(w.ctx, w.admin.WorkspaceID, m.SourceID)
	if err != nil {
		w.t.Fatal(err)
	}
	return src
}

// model is the world's model, read again.
func (w *world) model() *models.DataModel {
	w.t.Helper()
	seg, err := w.store.SegmentByID(w.ctx, w.admin.WorkspaceID, w.act.SegmentID)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := w.store.ModelByID(w.ctx, w.admin.WorkspaceID, seg.ModelID)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

// readOnlyRole makes the source read the warehouse as a role of its own with SELECT on
// customers, which the test can then revoke.
func (w *world) readOnlyRole() string {
	w.t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "sluice_ro_" + hex.EncodeToString(b)
	w.exec(`CREATE ROLE ` + role + ` LOGIN PASSWORD 'pw'`)
	w.t.Cleanup(func() {
		_, _ = w.dw.Exec(w.ctx, `DROP OWNED BY `+role)
		_, _ = w.dw.Exec(w.ctx, `DROP ROLE `+role)
	})
	var db string
	if err := w.dw.QueryRow(w.ctx, `SELECT current_database()`).Scan(&db); err != nil {
		w.t.Fatal(err)
	}
	w.exec(`GRANT CONNECT ON DATABASE ` + db + ` TO ` + role)
	w.exec(`GRANT USAGE ON SCHEMA public TO ` + role)
	w.exec(`GRANT SELECT ON customers TO ` + role)
	src := w.source()
	spec, _ := w.core.SourceSpec("postgres")
	host, port := w.dw.Config().Host, w.dw.Config().Port
	if _, err := w.store.UpdateSource(w.ctx, w.admin, src.ID, spec, models.SourceInput{Name: src.Name, Config: connectors.Config{
		"host": host, "port": strconv.Itoa(int(port)), "database": db, "user": role, "password": "pw", "sslmode": "disable"}}); err != nil {
		w.t.Fatal(err)
	}
	if src, err := w.core.ValidateSource(w.ctx, w.admin.WorkspaceID, src.ID); err != nil || src.Status != models.SourceConnected {
		w.t.Fatalf("source as %s: %+v %v", role, src, err)
	}
	return role
}

// resumeIfPaused resumes the activation as a user would, if something paused it (a
// broken source pauses its activations).
func (w *world) resumeIfPaused() {
	w.t.Helper()
	if a, _ := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID); a.Status == models.ActivationPaused {
		if _, err := w.core.Resume(w.ctx, w.admin, w.act.ID); err != nil {
			w.t.Fatal(err)
		}
	}
}

// A grant revoked in the warehouse during a run is the source's to fix: the source turns
// broken with the statement to run, the platform stays connected; once the grant is
// back, the next run checks the source again and goes through without anyone pressing
// "Validate now".
func TestRevokedGrantBreaksTheSourceNotThePlatform(t *testing.T) {
	w := newWorld(t)
	role := w.readOnlyRole()
	if r, _ := w.run(); r.Status != models.RunWarnings || r.Sent != 40 {
		t.Fatalf("first run: %s %+v", r.Status, r.RunCounts)
	}

	w.exec(`REVOKE SELECT ON customers FROM ` + role)
	r, _ := w.run()
	if r.Status != models.RunFailed || r.ErrorCategory != "credentials" || r.ErrorSide != models.RunSideSource ||
		!strings.Contains(r.ErrorMessage, "permission denied for table customers") {
		t.Fatalf("revoked grant: %s %s/%s %q", r.Status, r.ErrorSide, r.ErrorCategory, r.ErrorMessage)
	}
	p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, w.platform.ID)
	if p.Status != models.PlatformConnected {
		t.Fatalf("the platform was blamed: %s %q", p.Status, p.StatusMessage)
	}
	a, _ := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID)
	if strings.Contains(a.PauseReason, "platform") {
		t.Fatalf("paused for the platform: %q", a.PauseReason)
	}
	src := w.source()
	f := src.FailedCheck()
	if src.Status != models.SourceBroken || f == nil || !strings.Contains(f.Message, "GRANT SELECT ON") || !strings.Contains(f.Message, role) {
		t.Fatalf("source after the revoke: %s %+v", src.Status, f)
	}

	// While the grant is missing, the next run re-checks and fails fast on the source.
	w.resumeIfPaused()
	r, _ = w.run()
	if r.Status != models.RunFailed || r.ErrorSide != models.RunSideSource || !strings.Contains(r.ErrorMessage, "GRANT SELECT ON") {
		t.Fatalf("run on a broken source: %s %s/%s %q", r.Status, r.ErrorSide, r.ErrorCategory, r.ErrorMessage)
	}

	// The grant is back: nobody validates by hand, the next run goes through.
	w.exec(`GRANT SELECT ON customers TO ` + role)
	w.resumeIfPaused()
	w.exec(`UPDATE customers SET name = 'Back' WHERE id = 11`)
	r, _ = w.run()
	if r.Status != models.RunWarnings || r.Sent != 1 {
		t.Fatalf("after the grant is back: %s %q %+v", r.Status, r.ErrorMessage, r.RunCounts)
	}
	if src := w.source(); src.Status != models.SourceConnected {
		t.Fatalf("the source is still %s", src.Status)
	}
}

// A column renamed in the warehouse: the run fails on the source's side with the
// warehouse's words, the model is validated at once (Altered on that column, no
// "Validate now"), and associating the new column updates the activation's mapping too,
// so the next run goes through.
func TestRenamedColumnValidatesTheModelAndRemapFollowsMappings(t *testing.T) {
	w := newWorld(t)
	if r, _ := w.run(); r.Status != models.RunWarnings {
		t.Fatalf("first run: %s %q", r.Status, r.ErrorMessage)
	}
	w.exec(`ALTER TABLE customers RENAME COLUMN phone TO mobile`)
	r, _ := w.run()
	if r.Status != models.RunFailed || r.ErrorSide != models.RunSideSource || r.ErrorCategory != "configuration" || !strings.Contains(r.ErrorMessage, "phone") {
		t.Fatalf("after the rename: %s %s/%s %q", r.Status, r.ErrorSide, r.ErrorCategory, r.ErrorMessage)
	}
	m := w.model()
	altered := false
	for _, i := range m.Issues() {
		altered = altered || (i.Column == "phone" && i.Kind == models.IssueAltered)
	}
	if m.Status != models.ModelBroken || !altered {
		t.Fatalf("the model was not validated by the failed run: %s %+v", m.Status, m.Issues())
	}
	if p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, w.platform.ID); p.Status != models.PlatformConnected {
		t.Fatalf("the platform was blamed: %s", p.Status)
	}

	if _, err := w.core.RemapColumn(w.ctx, w.admin, m.ID, "phone", "mobile"); err != nil {
		t.Fatal(err)
	}
	a, _ := w.store.ActivationByID(w.ctx, w.admin.WorkspaceID, w.act.ID)
	froms := []string{}
	for _, mp := range a.Mappings() {
		froms = append(froms, mp.From)
	}
	if strings.Join(froms, ",") != "email,mobile,name" {
		t.Fatalf("mappings after the remap read %v", froms)
	}
	w.resumeIfPaused()
	w.exec(`UPDATE customers SET mobile = '06 99 99 99 01' WHERE id = 1`)
	r, _ = w.run()
	if rec, _ := w.rc.record("1"); r.Status != models.RunWarnings || r.Changed != 1 || rec["phone"] != "+33699999901" {
		t.Fatalf("after the remap: %s %q %+v %v", r.Status, r.ErrorMessage, r.RunCounts, rec)
	}
}

// A run that withheld every row it read delivered nothing because of the data: it is
// failed, says why in plain words, and its fix opens its withheld rows.
func TestRunWithholdingEveryRowFails(t *testing.T) {
	w := newWorld(t)
	w.exec(`UPDATE customers SET email = 'broken'`)
	r, _ := w.run()
	if r.Status != models.RunFailed || r.ErrorCategory != "configuration" || r.ErrorSide != models.RunSideData || r.Sent != 0 || r.SourceIssues != r.Queried ||
		!strings.Contains(r.ErrorMessage, "all 44 rows") || !strings.Contains(r.ErrorMessage, "invalid e-mail") {
		t.Fatalf("every row withheld: %s %s/%s %q %+v", r.Status, r.ErrorSide, r.ErrorCategory, r.ErrorMessage, r.RunCounts)
	}
	if p, _ := w.store.PlatformByID(w.ctx, w.admin.WorkspaceID, w.platform.ID); p.Status != models.PlatformConnected {
		t.Fatalf("the platform was blamed: %s", p.Status)
	}
	failed, err := w.store.ListActivations(w.ctx, w.admin.WorkspaceID, models.ActivationFilter{Status: models.HealthFailed})
	if err != nil || len(failed) != 1 {
		t.Fatalf("the Failed filter lists %d activations (%v)", len(failed), err)
	}
}
