package bigquery_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/internal/fakes/bastion"
	"sluice/jobs/jobstest"
	"sluice/models"
	"sluice/segments"
	"sluice/sources/bigquery"
	"sluice/sources/sshtunnel"
)

// A Sluice whose only way out is an SSH bastion: the token exchange and every API call
// travel over the tunnel, a key the bastion refuses fails the connection check naming
// the bastion, and once it is installed the five checks pass and a query job's rows
// come back through it.
func TestThroughSSHTunnel(t *testing.T) {
	e := newEnv(t)
	b := bastion.Start(t)
	src := b.CheckSource(t, e.cfg, func(cfg connectors.Config) connectors.Source { return e.open(t, cfg) })
	var ids []string
	err := src.Query(context.Background(), "SELECT id FROM marketing.customers ORDER BY id", nil, func(row []any) error {
		ids = append(ids, fmt.Sprint(row[0]))
		return nil
	})
	if err != nil || strings.Join(ids, ",") != "1,2,3" {
		t.Fatalf("query through the tunnel: %v %v", ids, err)
	}
}

// TestSSHTunnelFailuresNameTheirHop: past the bastion's login, what fails is the way
// from the bastion to Google, and the checks and queries say so in the tunnel's words
// (the token request's failure reaches them whole, though oauth2 keeps only its text).
func TestSSHTunnelFailuresNameTheirHop(t *testing.T) {
	e := newEnv(t)
	b := bastion.Start(t)
	cfg, pub := b.TunnelConfig(t, e.cfg)
	b.Authorize(pub)
	addr := b.Host() + ":" + b.Port()
	fail := func(t *testing.T, conn connectors.SourceConnector, want string) {
		t.Helper()
		src, err := conn.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		wantFailure(t, validate(t, src), connectors.StageConnection, want)
		err = src.Query(context.Background(), "SELECT 1", nil, func([]any) error { return nil })
		if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConnection || !strings.Contains(ce.Message, want) || ce.Field != sshtunnel.FieldHost {
			t.Errorf("query error = %v, want a connection error on the bastion's host field saying %q", err, want)
		}
	}

	t.Run("forwarding off", func(t *testing.T) {
		b.RefuseForwarding(true)
		t.Cleanup(func() { b.RefuseForwarding(false) })
		fail(t, e.conn, "The SSH bastion "+addr+" does not let user sluice open connections to "+strings.TrimPrefix(e.fake.URL, "http://"))
	})
	t.Run("Google unreachable from the bastion", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		fail(t, bigquery.New(bigquery.Options{BaseURL: "http://" + closed}), "The SSH bastion "+addr+" cannot reach Google's BigQuery API at "+closed+": connect failed")
		fail(t, bigquery.New(bigquery.Options{BaseURL: "http://" + closed}), "Let the bastion make outbound connections to "+closed+".")
	})
}

// TestActivationRunsThroughSSHTunnel is a whole activation from BigQuery reached
// through an SSH bastion (jobstest.ThroughTunnel): the runs read BigQuery through it,
// and a refused key or a changed host key fails a run naming the bastion.
func TestActivationRunsThroughSSHTunnel(t *testing.T) {
	e := newEnv(t)
	if err := e.fake.Exec(context.Background(), `CREATE TABLE marketing.people AS
		SELECT i::bigint AS id, 'c' || i || '@example.com' AS email FROM generate_series(1, 12) AS i`); err != nil {
		t.Fatal(err)
	}
	h := &hook{records: map[string]map[string]any{}}
	jobstest.ThroughTunnel(t, jobstest.Activation{
		Source: bigquery.New(bigquery.Options{BaseURL: e.fake.URL}), Config: e.cfg,
		Table: connectors.Table{Schema: "marketing", Name: "people"}, PrimaryKey: "id",
		Condition: segments.All(segments.Leaf("id", segments.OpLte, 10)),
		Mappings:  []models.Mapping{{From: "email", To: "email", Type: "email"}},
		Hook:      h,
	}, bastion.Start(t), func(r *models.Run) {
		// People 1 to 10, every one sent.
		if rec, n := h.record("10"); r.Queried != 10 || r.Added != 10 || r.Sent != 10 || n != 10 || rec["email"] != "c10@example.com" {
			t.Fatalf("first run through the tunnel: %+v; the destination holds %d records, 10 is %v", r.RunCounts, n, rec)
		}
	})
}
