package connectortest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
)

// This file is a whole new connector kind of each sort, "example", kept in memory: all
// a kind needs is its own package (here, these types), the kit passing, and one line in
// the registry (newRegistry).

// newRegistry is main's registry with the example kinds: one line each.
func newRegistry(wh *warehouse, box *inbox) *connectors.Registry {
	r := connectors.NewRegistry()
	r.RegisterSource(exampleSources{wh: wh})
	r.RegisterDestination(examplePlatforms{box: box})
	return r
}

// The credentials the example backends accept.
const (
	goodToken  = "token-that-works"
	goodAPIKey = "key-that-works"
)

func TestExampleSourcePassesTheKit(t *testing.T) {
	wh := &warehouse{tables: map[string][]string{}}
	c, ok := newRegistry(wh, &inbox{}).Source("example")
	if !ok {
		t.Fatal("the example source kind is not registered")
	}
	connectortest.Source(t, c, connectortest.SourceEnv{
		Config:  connectors.Config{"dataset": "demo", "token": goodToken},
		Failing: connectors.Config{"dataset": "demo", "token": "a-token-revoked-since"},
		Invalid: []connectortest.Invalid{{Name: "a dataset with spaces", Config: connectors.Config{"dataset": "my demo", "token": goodToken}, Field: "dataset"}},
		Keys: func(t *testing.T, keys []string) connectors.Relation {
			wh.put("keys", keys)
			return connectors.Relation{Table: &connectors.Table{Name: "keys"}}
		},
	})
}

func TestExampleDestinationPassesTheKit(t *testing.T) {
	box := &inbox{}
	c, ok := newRegistry(&warehouse{}, box).Destination("example")
	if !ok {
		t.Fatal("the example destination kind is not registered")
	}
	connectortest.Destination(t, c, connectortest.DestinationEnv{
		Config:   connectors.Config{"api_key": goodAPIKey, "batch_size": "25"},
		Failing:  connectors.Config{"api_key": "a-key-revoked-since"},
		Invalid:  []connectortest.Invalid{{Name: "batch size 0", Config: connectors.Config{"api_key": goodAPIKey, "batch_size": "0"}, Field: "batch_size"}},
		Received: box.drain,
	})
}

func TestRegistryOpensByKind(t *testing.T) {
	ctx := context.Background()
	wh := &warehouse{tables: map[string][]string{}}
	r := newRegistry(wh, &inbox{})

	src, err := r.OpenSource(ctx, "example", connectors.Config{"dataset": "demo", "token": goodToken})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Dialect().Name() != "example" {
		t.Errorf("opened a %s source, want example", src.Dialect().Name())
	}
	dest, err := r.OpenDestination(ctx, "example", connectors.Config{"api_key": goodAPIKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	if err := dest.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
	// What Open refuses comes back as the connector said it.
	_, err = r.OpenSource(ctx, "example", connectors.Config{"dataset": "demo"})
	if ce, ok := connectors.AsError(err); !ok || ce.Field != "token" {
		t.Errorf("opening without a token gave %v, want the connector's error on token", err)
	}

	_, srcErr := r.OpenSource(ctx, "snowflake", connectors.Config{})
	_, destErr := r.OpenDestination(ctx, "braze", connectors.Config{}, nil)
	_, specErr := r.SourceSpec("snowflake")
	_, destSpecErr := r.DestinationSpec("braze")
	for _, err := range []error{srcErr, destErr, specErr, destSpecErr} {
		ce, ok := connectors.AsError(err)
		if !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != "kind" || ce.Message == "" {
			t.Errorf("an unknown kind gave %v, want a configuration error on kind", err)
		}
	}
	if spec, err := r.DestinationSpec("example"); err != nil || spec.Label != "Example platform" {
		t.Errorf("DestinationSpec(example) = %+v, %v", spec, err)
	}
}

// warehouse is the example source's backend: tables of one text column, key.
type warehouse struct {
	mu     sync.Mutex
	tables map[string][]string
}

func (w *warehouse) put(table string, keys []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tables[table] = slices.Clone(keys)
}

func (w *warehouse) get(table string) ([]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys, ok := w.tables[table]
	return slices.Clone(keys), ok
}

// exampleSources is the source connector of the kind "example".
type exampleSources struct{ wh *warehouse }

var datasetName = regexp.MustCompile(`^[a-z0-9_]+$`)

func (exampleSources) Spec() connectors.SourceSpec {
	return connectors.SourceSpec{Kind: "example", Label: "Example warehouse", Fields: []connectors.FieldSpec{
		{Name: "dataset", Label: "Dataset", Type: connectors.FieldString, Required: true},
		{Name: "token", Label: "Token", Type: connectors.FieldPassword, Secret: true, Required: true},
		{Name: "mode", Label: "Read mode", Type: connectors.FieldSelect, Options: []string{"snapshot", "live"}, Default: "snapshot"},
	}}
}

func (c exampleSources) Open(_ context.Context, cfg connectors.Config) (connectors.Source, error) {
	if err := cfg.Validate(c.Spec().Fields); err != nil {
		return nil, err
	}
	if !datasetName.MatchString(cfg["dataset"]) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "dataset",
			Message: "A dataset name is lower-case letters, digits and _."}
	}
	return &exampleSource{wh: c.wh, allowed: cfg["token"] == goodToken}, nil
}

type exampleSource struct {
	wh      *warehouse
	allowed bool
}

// refused is the error of every call when the token is not the one the backend takes;
// it names the field, never its value.
func (s *exampleSource) refused() error {
	if s.allowed {
		return nil
	}
	return &connectors.Error{Category: connectors.CategoryCredentials, Field: "token",
		Message: "The example warehouse refused the token: paste a current one."}
}

func (s *exampleSource) Validate(_ context.Context, _ []connectors.ModelRef) []connectors.Check {
	checks := make([]connectors.Check, len(connectors.Stages))
	for i, st := range connectors.Stages {
		checks[i] = connectors.Check{Stage: st, OK: true, Message: "Fine."}
		if err := s.refused(); err != nil {
			checks[i] = connectors.Check{Stage: st, Skipped: true, Message: "Skipped: fix the connection first."}
			if i == 0 {
				checks[i] = connectors.Check{Stage: st, Message: err.(*connectors.Error).Message}
			}
		}
	}
	return checks
}

func (s *exampleSource) Schemas(context.Context) ([]string, error) {
	if err := s.refused(); err != nil {
		return nil, err
	}
	return []string{"main"}, nil
}

func (s *exampleSource) Tables(context.Context, string) ([]connectors.Table, error) {
	if err := s.refused(); err != nil {
		return nil, err
	}
	return []connectors.Table{{Schema: "main", Name: "keys"}}, nil
}

func (s *exampleSource) Columns(context.Context, connectors.Relation) ([]connectors.Column, error) {
	if err := s.refused(); err != nil {
		return nil, err
	}
	return []connectors.Column{{Name: "key", Type: connectors.TypeString}}, nil
}

// keyQuery is the one statement the example reads besides SELECT 1: a table's keys,
// as its dialect orders them.
var keyQuery = regexp.MustCompile(`^SELECT BYTES\("m"\."key"\) FROM "(\w+)" AS "m" ORDER BY BYTES\("m"\."key"\)$`)

func (s *exampleSource) Query(_ context.Context, sql string, _ []any, fn func([]any) error) error {
	if err := s.refused(); err != nil {
		return err
	}
	if sql == "SELECT 1" {
		return fn([]any{int64(1)})
	}
	m := keyQuery.FindStringSubmatch(sql)
	if m == nil {
		return &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The example warehouse reads only its tables' keys."}
	}
	keys, ok := s.wh.get(m[1])
	if !ok {
		return &connectors.Error{Category: connectors.CategoryNotFound, Message: "The table " + m[1] + " does not exist."}
	}
	slices.Sort(keys) // BYTES orders by bytes: Go's string order
	for _, k := range keys {
		if err := fn([]any{k}); err != nil {
			return err
		}
	}
	return nil
}

func (s *exampleSource) Dialect() connectors.Dialect { return exampleDialect{} }
func (s *exampleSource) Close() error                { return nil }

// exampleDialect is the example warehouse's SQL. KeyTextSQL is its one capability.
type exampleDialect struct{}

var _ connectors.KeyOrderer = exampleDialect{}

func (exampleDialect) Name() string                  { return "example" }
func (exampleDialect) QuoteIdent(name string) string { return strconv.Quote(name) }
func (exampleDialect) Placeholder(int) string        { return "?" }
func (exampleDialect) DaysAgo(ph string) string      { return "DAYS_AGO(" + ph + ")" }
func (exampleDialect) CaseInsensitiveLike() string   { return "ILIKE" }
func (d exampleDialect) RelationSQL(rel connectors.Relation, alias string) string {
	return d.QuoteIdent(rel.Table.Name) + " AS " + d.QuoteIdent(alias)
}
func (exampleDialect) KeyTextSQL(column string) string { return "BYTES(" + column + ")" }

// inbox is the example platform's backend: it takes requests sent with goodAPIKey.
type inbox struct {
	mu       sync.Mutex
	requests []connectortest.Request
}

func (b *inbox) take(r connectortest.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, r)
}

func (b *inbox) drain() []connectortest.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.requests
	b.requests = nil
	return out
}

// examplePlatforms is the destination connector of the kind "example".
type examplePlatforms struct{ box *inbox }

func (examplePlatforms) Spec() connectors.DestinationSpec {
	return connectors.DestinationSpec{
		Kind: "example", Label: "Example platform", Auth: connectors.AuthAPIKey,
		Config: []connectors.FieldSpec{
			{Name: "api_key", Label: "API key", Type: connectors.FieldPassword, Secret: true, Required: true},
			{Name: "batch_size", Label: "Batch size", Type: connectors.FieldInt, Default: "100"},
		},
		Actions:           []connectors.Action{contacts(100)},
		RequestsPerSecond: 5, Burst: 5,
	}
}

func contacts(batchSize int) connectors.Action {
	return connectors.Action{Name: "sync_contacts", Label: "Sync contacts", BatchSize: batchSize, Fields: []connectors.ActionField{
		{Name: "email", Label: "E-mail", Kind: connectors.KindEmail, Required: true, Identifier: true},
		{Name: "name", Label: "Name", Kind: connectors.KindString},
	}}
}

func (c examplePlatforms) Open(_ context.Context, cfg connectors.Config, _ connectors.Tokens) (connectors.Destination, error) {
	if err := cfg.Validate(c.Spec().Config); err != nil {
		return nil, err
	}
	size, _ := strconv.Atoi(cfg["batch_size"])
	if size < 1 || size > 1000 {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "batch_size", Message: "Batch size must be between 1 and 1,000."}
	}
	return &examplePlatform{box: c.box, key: cfg["api_key"], batchSize: size}, nil
}

type examplePlatform struct {
	box       *inbox
	key       string
	batchSize int
}

var (
	_ connectors.ConfiguredActions = (*examplePlatform)(nil)
	_ connectors.RateLimiter       = (*examplePlatform)(nil)
)

func (p *examplePlatform) Action(name string) (connectors.Action, bool) {
	if name != "sync_contacts" {
		return connectors.Action{}, false
	}
	return contacts(p.batchSize), true
}

func (p *examplePlatform) RateLimit() (float64, int) { return 5, 5 }

// send is one request: refused with the sample (its key redacted) unless the key is
// the one the backend takes.
func (p *examplePlatform) send(body []byte, records int) (*connectors.Exchange, error) {
	ex := &connectors.Exchange{Method: "POST", URL: "https://api.example.com/contacts", RequestBody: string(body),
		RequestHeaders: map[string]string{"Authorization": "[redacted]"}}
	if p.key != goodAPIKey {
		ex.StatusCode, ex.ResponseBody = 401, `{"error":"invalid api key"}`
		return nil, &connectors.Error{Category: connectors.CategoryCredentials, Field: "api_key", Exchange: ex,
			Message: "The example platform refused the API key: paste a current one.", Detail: "401 invalid api key"}
	}
	p.box.take(connectortest.Request{Records: records, Bytes: len(body)})
	ex.StatusCode, ex.ResponseBody = 200, `{}`
	return ex, nil
}

func (p *examplePlatform) Check(context.Context) error {
	_, err := p.send([]byte(`{"contacts":[]}`), 0)
	return err
}

func (p *examplePlatform) Write(_ context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	if b.Action != "sync_contacts" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: fmt.Sprintf("The example platform has no action %q.", b.Action)}
	}
	if len(b.Records) > p.batchSize {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "batch_size",
			Message: fmt.Sprintf("The batch has %d records, more than the batch size of %d.", len(b.Records), p.batchSize)}
	}
	body, err := json.Marshal(map[string]any{"contacts": b.Records})
	if err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The batch cannot be written as JSON.", Err: err}
	}
	ex, err := p.send(body, len(b.Records))
	if err != nil {
		return nil, err
	}
	return &connectors.WriteResult{Exchange: ex}, nil
}

func (p *examplePlatform) Close() error { return nil }
