package connectortest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/connectors"
)

// SourceEnv is how the kit reaches a source connector's backend.
type SourceEnv struct {
	// Config opens a source whose five validation stages pass.
	Config connectors.Config
	// Failing is a config that is valid but reaches nothing readable (a closed port, a
	// missing file): Open may refuse it with a connector error, or open it and let
	// Validate and every read say what is wrong.
	Failing connectors.Config
	// Invalid are configs Open must refuse, beyond those the kit derives from the spec.
	Invalid []Invalid
	// Secret writes the distinctive token into a secret field, for fields with a form
	// of their own (nil: the token is the value).
	Secret func(field, token string) string
	// Keys makes a relation, readable with Config, holding one row per key in a text
	// column named "key", and returns it. The kit reads it ordered by the dialect's
	// KeyOrderer. Nil skips that read (the dialect must still implement it), for a backend that only stands in for the
	// warehouse and cannot run the dialect's SQL; say why where the env is built.
	Keys func(t *testing.T, keys []string) connectors.Relation
}

// Timeout bounds each call the kit makes on a connector.
const Timeout = time.Minute

// Source runs the kit on a source connector, each check a subtest.
func Source(t *testing.T, c connectors.SourceConnector, env SourceEnv) {
	t.Helper()
	spec := c.Spec()
	t.Run("spec", func(t *testing.T) {
		for _, p := range sourceSpecProblems(spec) {
			t.Errorf("spec of %s: %s", spec.Kind, p)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, bad := range append(badConfigs(spec.Fields, env.Config), env.Invalid...) {
			src, err := open(c, bad.Config)
			if err == nil {
				src.Close()
			}
			checkRefused(t, bad, err)
		}
		src, err := open(c, env.Config)
		if err != nil {
			t.Fatalf("the working config does not open: %v", err)
		}
		defer src.Close()
		for _, ch := range validate(t, src) {
			if !ch.OK || ch.Skipped || strings.TrimSpace(ch.Message) == "" {
				t.Errorf("with the working config, stage %s: %+v; want it to pass with a message", ch.Stage, ch)
			}
		}
		if env.Failing == nil {
			t.Log("the environment gives no failing config: the errors of a failing backend are not checked")
			return
		}
		failing, err := open(c, env.Failing)
		if err != nil {
			for _, p := range errorProblems(err) {
				t.Errorf("Open of the failing config: %s", p)
			}
			return
		}
		defer failing.Close()
		checkFailedStages(t, validate(t, failing))
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		_, err = failing.Schemas(ctx)
		for _, p := range errorProblems(err) {
			t.Errorf("Schemas on the failing config: %s", p)
		}
		err = failing.Query(ctx, "SELECT 1", nil, func([]any) error { return nil })
		for _, p := range errorProblems(err) {
			t.Errorf("Query on the failing config: %s", p)
		}
	})
	t.Run("secrets", func(t *testing.T) {
		secrets := secretFields(spec.Fields)
		if len(secrets) == 0 {
			t.Skip("the spec has no secret field")
		}
		for _, name := range secrets {
			for _, base := range []struct {
				what string
				cfg  connectors.Config
			}{{"working", env.Config}, {"failing", env.Failing}} {
				if base.cfg == nil {
					continue
				}
				secret := token()
				value := secret
				if env.Secret != nil {
					value = env.Secret(name, secret)
				}
				for _, where := range sourceLeaks(c, with(base.cfg, name, value), secret) {
					t.Errorf("the %s config with a secret in %s: it shows in %s", base.what, name, where)
				}
			}
		}
	})
	t.Run("key order", func(t *testing.T) {
		src, err := open(c, env.Config)
		if err != nil {
			t.Fatalf("the working config does not open: %v", err)
		}
		d := src.Dialect()
		src.Close()
		if d == nil {
			t.Fatal("the source has no dialect")
		}
		ko, ok := d.(connectors.KeyOrderer)
		if !ok {
			t.Fatalf("dialect %s does not implement connectors.KeyOrderer: the engine cannot sync from it", d.Name())
		}
		column := d.QuoteIdent("m") + "." + d.QuoteIdent("key")
		if expr := ko.KeyTextSQL(column); !strings.Contains(expr, column) {
			t.Errorf("KeyTextSQL(%s) = %s, which does not read the column", column, expr)
		}
		if env.Keys == nil {
			t.Skip("the environment gives no relation of keys to read in order")
		}
		keys := orderKeys()
		rel := env.Keys(t, keys)
		want := slices.Sorted(slices.Values(keys))
		src, err = open(c, env.Config)
		if err != nil {
			t.Fatalf("the working config does not open: %v", err)
		}
		defer src.Close()
		var first []string
		for read := 1; read <= 2; read++ {
			got, err := readKeys(src, ko, rel)
			if err != nil {
				t.Fatalf("read %d of the keys: %v", read, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("read %d: keys came as %q, want Go's string order %q (the engine merges in that order)", read, got, want)
			}
			if first != nil && !slices.Equal(got, first) {
				t.Fatalf("the second read gave %q, the first %q", got, first)
			}
			first = got
		}
	})
}

// orderKeys are the primary keys the key order check reads, in no order: numbers as
// text ("10" before "9"), both cases, spaces, punctuation and letters beyond ASCII,
// where a collation that is not byte order gives itself away.
func orderKeys() []string {
	return []string{"b", "10", "A", "é", "9", "a b", "_", "Z", "1", " x", "ä", "a", "x ", "B", "01", "~", "Ä", "z", "100", "-1"}
}

func open(c connectors.SourceConnector, cfg connectors.Config) (connectors.Source, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return c.Open(ctx, cfg)
}

func validate(t *testing.T, src connectors.Source) []connectors.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	checks := src.Validate(ctx, nil)
	stages := make([]connectors.Stage, len(checks))
	for i, ch := range checks {
		stages[i] = ch.Stage
	}
	if !slices.Equal(stages, connectors.Stages) {
		t.Fatalf("Validate gave the stages %v, want %v", stages, connectors.Stages)
	}
	return checks
}

// checkRefused checks that Open refused a bad config with a configuration error naming
// the field.
func checkRefused(t *testing.T, bad Invalid, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("Open accepted the bad config %s", bad.Name)
		return
	}
	for _, p := range errorProblems(err) {
		t.Errorf("Open of the bad config %s: %s", bad.Name, p)
	}
	if ce, ok := connectors.AsError(err); ok {
		if ce.Category != connectors.CategoryConfiguration {
			t.Errorf("Open of the bad config %s: category %s, want configuration", bad.Name, ce.Category)
		}
		if ce.Field != bad.Field {
			t.Errorf("Open of the bad config %s: the error names the field %q, want %q (the form shows it there)", bad.Name, ce.Field, bad.Field)
		}
	}
}

// checkFailedStages checks a failing source's stages: one fails with a reason, the ones
// before it passed, the ones after it are skipped.
func checkFailedStages(t *testing.T, checks []connectors.Check) {
	t.Helper()
	failed := slices.IndexFunc(checks, func(ch connectors.Check) bool { return !ch.OK })
	if failed < 0 {
		t.Errorf("every stage passed with the failing config: %+v", checks)
		return
	}
	for i, ch := range checks {
		switch {
		case i < failed && ch.Skipped:
			t.Errorf("stage %s passed yet is marked skipped", ch.Stage)
		case i == failed && (ch.Skipped || strings.TrimSpace(ch.Message) == ""):
			t.Errorf("the failing stage %s must run and say why it failed: %+v", ch.Stage, ch)
		case i > failed && (ch.OK || !ch.Skipped):
			t.Errorf("stage %s after the failed %s must be skipped: %+v", ch.Stage, checks[failed].Stage, ch)
		}
	}
}

// sourceLeaks opens cfg and calls what reports errors, listing where secret shows.
func sourceLeaks(c connectors.SourceConnector, cfg connectors.Config, secret string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var out []string
	note := func(call string, wheres []string) {
		for _, w := range wheres {
			out = append(out, w+" of "+call)
		}
	}
	src, err := c.Open(ctx, cfg)
	note("Open", leaks(err, secret))
	if err != nil {
		return out
	}
	defer src.Close()
	for _, ch := range src.Validate(ctx, nil) {
		if strings.Contains(ch.Message, secret) {
			out = append(out, fmt.Sprintf("the message of the %s stage", ch.Stage))
		}
	}
	_, err = src.Schemas(ctx)
	note("Schemas", leaks(err, secret))
	_, err = src.Tables(ctx, "")
	note("Tables", leaks(err, secret))
	err = src.Query(ctx, "SELECT 1", nil, func([]any) error { return nil })
	note("Query", leaks(err, secret))
	return out
}

// readKeys reads the relation's keys as the engine's extraction orders them: the
// dialect's key text, ordered by itself.
func readKeys(src connectors.Source, ko connectors.KeyOrderer, rel connectors.Relation) ([]string, error) {
	d := src.Dialect()
	key := ko.KeyTextSQL(d.QuoteIdent("m") + "." + d.QuoteIdent("key"))
	sql := "SELECT " + key + " FROM " + d.RelationSQL(rel, "m") + " ORDER BY " + key
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var keys []string
	err := src.Query(ctx, sql, nil, func(row []any) error {
		if len(row) != 1 {
			return fmt.Errorf("%s returned %d columns, want 1", sql, len(row))
		}
		switch v := row[0].(type) {
		case string:
			keys = append(keys, v)
		case []byte:
			keys = append(keys, string(v))
		default:
			return fmt.Errorf("the key text of %s is a %T, not text", sql, row[0])
		}
		return nil
	})
	return keys, err
}
