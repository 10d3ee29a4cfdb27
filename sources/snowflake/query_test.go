package snowflake_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
	sffake "sluice/internal/fakes/snowflake"
	"sluice/sources/snowflake"
)

// TestCatalog: schemas, tables and columns as the role sees them, with Snowflake's
// types normalized; a SQL model is described by the rowType of its query.
func TestCatalog(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	ctx := context.Background()
	schemas, err := src.Schemas(ctx)
	if err != nil || !slices.Equal(schemas, []string{"PUBLIC"}) {
		t.Fatalf("schemas %v %v (STAGING has no USAGE for the role)", schemas, err)
	}
	tables, err := src.Tables(ctx, "")
	if err != nil || len(tables) != 2 || tables[0].Name != "CUSTOMERS" || tables[1].Name != "VIP_CUSTOMERS" {
		t.Fatalf("tables %v %v (SECRETS is not granted)", tables, err)
	}
	if _, err := src.Tables(ctx, "NOPE"); err == nil {
		t.Fatal("an unknown schema listed no error")
	} else if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryNotFound || !strings.Contains(ce.Message, "Schema NOPE does not exist") {
		t.Fatalf("unknown schema: %v", err)
	}
	want := []connectors.Column{
		{Name: "ID", Type: connectors.TypeInteger, Raw: "NUMBER"}, {Name: "EMAIL", Type: connectors.TypeString, Raw: "TEXT"},
		{Name: "PHONE", Type: connectors.TypeString, Raw: "TEXT"}, {Name: "NAME", Type: connectors.TypeString, Raw: "TEXT"},
		{Name: "SCORE", Type: connectors.TypeNumber, Raw: "NUMBER(38,2)"}, {Name: "RATIO", Type: connectors.TypeNumber, Raw: "FLOAT"},
		{Name: "VIP", Type: connectors.TypeBoolean, Raw: "BOOLEAN"}, {Name: "BIRTHDAY", Type: connectors.TypeDate, Raw: "DATE"},
		{Name: "SIGNED_UP_AT", Type: connectors.TypeTimestamp, Raw: "TIMESTAMP_NTZ"}, {Name: "SEEN_AT", Type: connectors.TypeTimestamp, Raw: "TIMESTAMP_TZ"},
		{Name: "PROFILE", Type: connectors.TypeJSON, Raw: "VARIANT"},
	}
	cols, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "PUBLIC", Name: "CUSTOMERS"}})
	if err != nil || !slices.Equal(cols, want) {
		t.Fatalf("columns\n got %v %v\nwant %v", cols, err, want)
	}
	cols, err = src.Columns(ctx, connectors.Relation{SQL: "select id, email, score, vip, birthday, signed_up_at from customers -- unqualified: the schema of the form"})
	if err != nil || len(cols) != 6 || cols[0] != (connectors.Column{Name: "ID", Type: connectors.TypeInteger, Raw: "FIXED"}) ||
		cols[2].Type != connectors.TypeNumber || cols[3].Type != connectors.TypeBoolean || cols[4].Type != connectors.TypeDate || cols[5].Type != connectors.TypeTimestamp {
		t.Fatalf("sql columns %+v %v", cols, err)
	}
	if _, err := src.Columns(ctx, connectors.Relation{Table: &connectors.Table{Schema: "PUBLIC", Name: "SECRETS"}}); err == nil {
		t.Fatal("a table the role may not read was described")
	}
	if n := snowflake.NormalizeType("NUMBER(38,0)", 0); n != connectors.TypeInteger {
		t.Errorf("NUMBER(38,0) is %s", n)
	}
}

// TestQueryDecodesEveryType reads every type back as Go values, across partitions of
// a few rows, through statements that all answer 202 first (polled until done).
func TestQueryDecodesEveryType(t *testing.T) {
	w := newWarehouse(t, func(o *sffake.Options) { o.PartitionRows = 5; o.SyncWait = time.Nanosecond })
	src := w.open(t, w.cfg)
	got := rows(t, src, `SELECT "ID", "EMAIL", "SCORE", "RATIO", "VIP", "BIRTHDAY", "SIGNED_UP_AT", "SEEN_AT", "PROFILE", NULL AS "NOTHING" FROM "PUBLIC"."CUSTOMERS" WHERE "ID" > ? ORDER BY "ID"`, int64(2))
	if len(got) != 40 {
		t.Fatalf("%d rows, want 40 (8 partitions of 5)", len(got))
	}
	r := got[0]
	want := []any{int64(3), "c3@example.com", "3.75", 0.75, false, time.Date(2000, 1, 4, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 1, 13, 0, 0, 5e8, time.UTC), time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC), `{"n":3}`, nil}
	for i := range want {
		if wt, ok := want[i].(time.Time); ok {
			if gt, ok := r[i].(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("column %d: %#v, want %v", i, r[i], wt)
			}
			continue
		}
		if r[i] != want[i] {
			t.Errorf("column %d: %#v, want %#v", i, r[i], want[i])
		}
	}
	if got[39][0] != int64(42) {
		t.Fatalf("last row %v", got[39])
	}
	// Bindings of each type compare with their columns.
	n := rows(t, src, `SELECT COUNT(*) FROM "PUBLIC"."CUSTOMERS" AS "m" WHERE "m"."VIP" = ? AND "m"."RATIO" >= ? AND "m"."EMAIL" ILIKE ? ESCAPE '\\' AND "m"."BIRTHDAY" >= ? AND "m"."SIGNED_UP_AT" < ?`,
		true, 2.5, `c1%`, "2000-01-05", "2024-03-02 09:00:00")
	// VIP (even), ratio ≥ 2.5 (≥ 10), e-mail c1…, born from Jan 5th (≥ 4), signed up before Mar 2nd 09:00 (< 23): 10, 12, 14, 16, 18.
	if n[0][0] != int64(5) {
		t.Fatalf("count with bindings: %v", n)
	}
}

// TestQueryErrors: Snowflake's errors come back as connector errors in words.
func TestQueryErrors(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	ctx := context.Background()
	for _, tc := range []struct {
		sql  string
		cat  connectors.Category
		want string
	}{
		{`SELECT * FROM "PUBLIC"."SECRETS"`, connectors.CategoryNotFound, "Object 'SECRETS' does not exist or not authorized"},
		{`SELECT "NOPE" FROM "PUBLIC"."CUSTOMERS"`, connectors.CategoryConfiguration, "invalid identifier 'NOPE'"},
		{`SELECT 1 FROM OTHER_DB.PUBLIC.CUSTOMERS`, connectors.CategoryNotFound, "GRANT USAGE ON DATABASE OTHER_DB TO ROLE SLUICE_ROLE;"},
		{`SELECT * FROM "PUBLIC"."SECRETS"`, connectors.CategoryNotFound, "GRANT SELECT ON SECRETS TO ROLE SLUICE_ROLE;"},
		{`SELECT PG_SLEEP(1)`, connectors.CategoryConfiguration, "Unknown function PG_SLEEP"},
		{`SELECT 1; DELETE FROM "PUBLIC"."CUSTOMERS"`, connectors.CategoryConfiguration, "holds several statements"},
	} {
		err := src.Query(ctx, tc.sql, nil, func([]any) error { return nil })
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != tc.cat || !strings.Contains(ce.Message, tc.want) {
			t.Errorf("%s: %v, want %s %q", tc.sql, err, tc.cat, tc.want)
		}
	}
	// fn's own error comes back untouched.
	mine := errors.New("mine")
	if err := src.Query(ctx, `SELECT 1`, nil, func([]any) error { return mine }); err != mine {
		t.Errorf("fn's error came back as %v", err)
	}
}

// TestQueryRetriesThrottling: 429 answers are waited out (Retry-After) and retried.
func TestQueryRetriesThrottling(t *testing.T) {
	w := newWarehouse(t)
	src := w.open(t, w.cfg)
	w.fake.Throttle(2)
	if got := rows(t, src, `SELECT COUNT(*) FROM "PUBLIC"."CUSTOMERS"`); got[0][0] != int64(42) {
		t.Fatalf("after 429s: %v", got)
	}
}

// bigTable makes a table slow to cross-join, for cancellation and timeouts.
func bigTable(t *testing.T, w *warehouse) {
	t.Helper()
	ctx := context.Background()
	if err := w.fake.Exec(ctx, `CREATE TABLE "PUBLIC"."BIG" AS SELECT i AS "N" FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.GrantSelect(ctx, "SLUICE_ROLE", "PUBLIC", "BIG", true); err != nil {
		t.Fatal(err)
	}
}

const slowSQL = `SELECT COUNT(*) FROM "PUBLIC"."BIG" a, "PUBLIC"."BIG" b, "PUBLIC"."BIG" c`

// TestQueryCancel: when the caller gives up, the statement is cancelled on Snowflake's
// side too (POST …/cancel), not left running.
func TestQueryCancel(t *testing.T) {
	w := newWarehouse(t, func(o *sffake.Options) { o.SyncWait = 50 * time.Millisecond })
	bigTable(t, w)
	src := w.open(t, w.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := src.Query(ctx, slowSQL, nil, func([]any) error { return nil })
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled query: %v after %s", err, time.Since(start))
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.fake.Running() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := w.fake.Running(); n != 0 {
		t.Fatalf("%d statements still run on Snowflake after the caller gave up", n)
	}
}

// TestQueryTimeout: a statement past its timeout is cancelled by Snowflake (408) and
// reported as a timeout.
func TestQueryTimeout(t *testing.T) {
	w := newWarehouse(t)
	bigTable(t, w)
	conn := snowflake.NewWithTimeouts(snowflake.Options{BaseURL: w.fake.URL}, time.Second, time.Second)
	src, err := conn.Open(context.Background(), w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Query(context.Background(), slowSQL, nil, func([]any) error { return nil })
	ce, ok := connectors.AsError(err)
	if !ok || ce.Category != connectors.CategoryTimeout || !strings.Contains(ce.Message, "timeout of 1 second(s)") {
		t.Fatalf("timeout: %v", err)
	}
}

// TestPrivateKeyForms: PKCS#8, PKCS#1 and encrypted PKCS#8 (AES-256 and DES3, as
// Snowflake's guide makes them with openssl) are read; a wrong passphrase and a public
// key are refused in words.
func TestPrivateKeyForms(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	raw := filepath.Join(dir, "rsa.pem")
	run("genrsa", "-out", raw, "2048")
	read := func(name string) string {
		b, err := exec.Command("cat", filepath.Join(dir, name)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	run("pkcs8", "-topk8", "-nocrypt", "-in", raw, "-out", filepath.Join(dir, "plain.p8"))
	run("pkcs8", "-topk8", "-v2", "aes256", "-in", raw, "-out", filepath.Join(dir, "aes.p8"), "-passout", "pass:s3cret")
	run("pkcs8", "-topk8", "-v2", "des3", "-in", raw, "-out", filepath.Join(dir, "des3.p8"), "-passout", "pass:s3cret")
	run("rsa", "-in", raw, "-traditional", "-out", filepath.Join(dir, "pkcs1.pem"))
	run("rsa", "-in", raw, "-pubout", "-out", filepath.Join(dir, "pub.pem"))
	want, err := snowflake.ParseKey(read("plain.p8"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"aes.p8", "des3.p8", "pkcs1.pem"} {
		k, err := snowflake.ParseKey(read(f), "s3cret")
		if err != nil || !k.Equal(want) {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, tc := range []struct{ file, pass, want string }{
		{"aes.p8", "wrong", "passphrase does not decrypt"},
		{"aes.p8", "", "no passphrase"},
		{"pub.pem", "", "this is the public key"},
	} {
		if _, err := snowflake.ParseKey(read(tc.file), tc.pass); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %q: %v, want %q", tc.file, tc.pass, err, tc.want)
		}
	}
}

// TestDecodeValues: the jsonv2 forms of "Handling responses".
func TestDecodeValues(t *testing.T) {
	for _, tc := range []struct {
		typ   string
		scale int
		in    string
		want  any
	}{
		{"fixed", 0, "123", int64(123)},
		{"fixed", 0, "123456789012345678901234567890", "123456789012345678901234567890"},
		{"fixed", 2, "1.50", "1.50"},
		{"real", 0, "1.5e+01", 15.0},
		{"boolean", 0, "true", true},
		{"date", 0, "-1", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"timestamp_ntz", 9, "1616173619.000000500", time.Unix(1616173619, 500).UTC()},
		{"timestamp_ntz", 9, "-1.500000000", time.Unix(-2, 5e8).UTC()},
		{"timestamp_tz", 9, "1616173619.000000000 1500", time.Unix(1616173619, 0).In(time.FixedZone("", 3600))},
		{"text", 0, "x", "x"},
		// The SQL API's OpenAPI spec writes the types in upper case in its example.
		{"FIXED", 0, "5", int64(5)},
		{"TIMESTAMP_NTZ", 3, "1565481394.123000000", time.Unix(1565481394, 123e6).UTC()},
	} {
		got, err := snowflake.DecodeValue(snowflake.Col(tc.typ, tc.scale), tc.in)
		if err != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.in, err)
			continue
		}
		if wt, ok := tc.want.(time.Time); ok {
			gt, ok := got.(time.Time)
			_, goff := gt.Zone()
			_, woff := wt.Zone()
			if !ok || !gt.Equal(wt) || goff != woff {
				t.Errorf("%s %s: %v, want %v", tc.typ, tc.in, got, wt)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s %s: %#v, want %#v", tc.typ, tc.in, got, tc.want)
		}
	}
}
