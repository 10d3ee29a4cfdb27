package connectortest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
)

// The kit must fail connectors that break the contract, not only pass good ones. Each
// case of TestBroken runs the kit on the example connector with one fault; since a
// failing kit fails its test, TestKitFailsBrokenConnectors runs each case in a child
// test process and reads its verdict.

const brokenEnv = "CONNECTORTEST_BROKEN"

func TestKitFailsBrokenConnectors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary once per case")
	}
	for _, tc := range []struct{ name, want string }{
		{"secret_in_error", "the failing config with a secret in token: it shows in the error's text of Schemas"},
		{"case_insensitive_keys", "want Go's string order"},
		{"one_request_per_batch", "carried 26 records, over its batch size of 25"},
		{"password_not_secret", "a password field must be marked Secret"},
		{"uncategorised_error", "is not a *connectors.Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBroken$/^"+tc.name+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"=1")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the kit passed a connector with the fault %s:\n%s", tc.name, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("the kit failed %s without saying %q:\n%s", tc.name, tc.want, out)
			}
		})
	}
}

func TestBroken(t *testing.T) {
	if os.Getenv(brokenEnv) == "" {
		t.Skip("run by TestKitFailsBrokenConnectors, in a process of its own")
	}
	sourceEnv := func(wh *warehouse) connectortest.SourceEnv {
		return connectortest.SourceEnv{
			Config:  connectors.Config{"dataset": "demo", "token": goodToken},
			Failing: connectors.Config{"dataset": "demo", "token": "a-token-revoked-since"},
			Keys: func(t *testing.T, keys []string) connectors.Relation {
				wh.put("keys", keys)
				return connectors.Relation{Table: &connectors.Table{Name: "keys"}}
			},
		}
	}
	destEnv := func(box *inbox) connectortest.DestinationEnv {
		return connectortest.DestinationEnv{
			Config:   connectors.Config{"api_key": goodAPIKey, "batch_size": "25"},
			Failing:  connectors.Config{"api_key": "a-key-revoked-since"},
			Received: box.drain,
		}
	}
	t.Run("secret_in_error", func(t *testing.T) {
		wh := &warehouse{tables: map[string][]string{}}
		connectortest.Source(t, leakySources{exampleSources{wh: wh}}, sourceEnv(wh))
	})
	t.Run("case_insensitive_keys", func(t *testing.T) {
		wh := &warehouse{tables: map[string][]string{}}
		connectortest.Source(t, foldingSources{exampleSources{wh: wh}}, sourceEnv(wh))
	})
	t.Run("one_request_per_batch", func(t *testing.T) {
		box := &inbox{}
		connectortest.Destination(t, unsplitPlatforms{examplePlatforms{box: box}}, destEnv(box))
	})
	t.Run("password_not_secret", func(t *testing.T) {
		box := &inbox{}
		connectortest.Destination(t, plainPlatforms{examplePlatforms{box: box}}, destEnv(box))
	})
	t.Run("uncategorised_error", func(t *testing.T) {
		box := &inbox{}
		connectortest.Destination(t, rawErrorPlatforms{examplePlatforms{box: box}}, destEnv(box))
	})
}

// leakySources put the token in the text of their catalogue errors.
type leakySources struct{ exampleSources }

func (c leakySources) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	src, err := c.exampleSources.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return leakySource{src.(*exampleSource), cfg["token"]}, nil
}

type leakySource struct {
	*exampleSource
	token string
}

func (s leakySource) Schemas(ctx context.Context) ([]string, error) {
	names, err := s.exampleSource.Schemas(ctx)
	if err != nil {
		return nil, fmt.Errorf("example: schemas as %s: %w", s.token, err)
	}
	return names, nil
}

// foldingSources order keys ignoring case, as a warehouse's default collation would.
type foldingSources struct{ exampleSources }

func (c foldingSources) Open(ctx context.Context, cfg connectors.Config) (connectors.Source, error) {
	src, err := c.exampleSources.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return foldingSource{src.(*exampleSource)}, nil
}

type foldingSource struct{ *exampleSource }

func (s foldingSource) Query(ctx context.Context, sql string, args []any, fn func([]any) error) error {
	var keys []any
	err := s.exampleSource.Query(ctx, sql, args, func(row []any) error { keys = append(keys, row[0]); return nil })
	if err != nil {
		return err
	}
	slices.SortStableFunc(keys, func(a, b any) int {
		return strings.Compare(strings.ToLower(fmt.Sprint(a)), strings.ToLower(fmt.Sprint(b)))
	})
	for _, k := range keys {
		if err := fn([]any{k}); err != nil {
			return err
		}
	}
	return nil
}

// unsplitPlatforms send any batch as one request, whatever its size.
type unsplitPlatforms struct{ examplePlatforms }

func (c unsplitPlatforms) Open(ctx context.Context, cfg connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	d, err := c.examplePlatforms.Open(ctx, cfg, tokens)
	if err != nil {
		return nil, err
	}
	return unsplitPlatform{d.(*examplePlatform)}, nil
}

type unsplitPlatform struct{ *examplePlatform }

func (p unsplitPlatform) Write(_ context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	ex, err := p.send([]byte("{}"), len(b.Records))
	if err != nil {
		return nil, err
	}
	return &connectors.WriteResult{Exchange: ex}, nil
}

// plainPlatforms forget to mark the API key secret.
type plainPlatforms struct{ examplePlatforms }

func (c plainPlatforms) Spec() connectors.DestinationSpec {
	spec := c.examplePlatforms.Spec()
	spec.Config = slices.Clone(spec.Config)
	spec.Config[0].Secret = false
	return spec
}

// rawErrorPlatforms answer a refused key with a bare error.
type rawErrorPlatforms struct{ examplePlatforms }

func (c rawErrorPlatforms) Open(ctx context.Context, cfg connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	d, err := c.examplePlatforms.Open(ctx, cfg, tokens)
	if err != nil {
		return nil, err
	}
	return rawErrorPlatform{d.(*examplePlatform)}, nil
}

type rawErrorPlatform struct{ *examplePlatform }

func (p rawErrorPlatform) Check(ctx context.Context) error {
	if err := p.examplePlatform.Check(ctx); err != nil {
		return errors.New("HTTP 401")
	}
	return nil
}
