package connectortest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sluice/connectors"
)

// DestinationEnv is how the kit reaches a destination connector's backend, a fake of
// the platform's API.
type DestinationEnv struct {
	// Config opens a platform whose backend takes every request (2xx) of the right shape.
	Config connectors.Config
	// Failing is a config that is valid but whose backend refuses every request (a 401,
	// a 500, nothing listening): Open may refuse it with a connector error, or open it and
	// let Check and Write say what is wrong.
	Failing connectors.Config
	// Invalid are configs Open must refuse, beyond those the kit derives from the spec.
	Invalid []Invalid
	// Secret writes the distinctive token into a secret field, for fields with a form
	// of their own, e.g. a header line (nil: the token is the value).
	Secret func(field, token string) string
	// Received returns the requests the Config backend took since it was last called,
	// oldest first: how many records each carried and its body's size. Required: the
	// batch limits are checked on what reaches the backend.
	Received func() []Request
	// Settings are the values of each action's settings (by action name) that the Config
	// backend knows: its lists, audiences, conversion actions.
	Settings map[string]map[string]string
	// Tokens is the access token the Config backend accepts, for an OAuth kind (nil for
	// others). Failing is opened with the same Tokens: its backend refuses them.
	Tokens connectors.Tokens
	// Fields are the mapped fields of the i-th record of a batch for an action (nil: the
	// kit writes a value of each field's kind, and an e-mail and a name for an action
	// that takes custom fields only).
	Fields func(a connectors.Action, i int) map[string]any
}

// Request is one request as the backend took it.
type Request struct {
	Records int
	Bytes   int
}

// noSuchAction is an action name no destination has.
const noSuchAction = "kit_no_such_action"

// Destination runs the kit on a destination connector, each check a subtest.
func Destination(t *testing.T, c connectors.DestinationConnector, env DestinationEnv) {
	t.Helper()
	spec := c.Spec()
	t.Run("spec", func(t *testing.T) {
		for _, p := range destinationSpecProblems(spec) {
			t.Errorf("spec of %s: %s", spec.Kind, p)
		}
		dest := openDestination(t, c, env, env.Config)
		if ca, ok := dest.(connectors.ConfiguredActions); ok {
			for _, a := range spec.Actions {
				got, ok := ca.Action(a.Name)
				if !ok || got.Name != a.Name {
					t.Errorf("Action(%q) = %q, %v: an opened platform knows every action of its spec", a.Name, got.Name, ok)
					continue
				}
				for _, p := range actionProblems(got) {
					t.Errorf("as configured: %s", p)
				}
			}
			if _, ok := ca.Action(noSuchAction); ok {
				t.Errorf("Action(%q) answered an action it does not have", noSuchAction)
			}
		}
		if rl, ok := dest.(connectors.RateLimiter); ok {
			if perSecond, burst := rl.RateLimit(); perSecond > 0 && burst < 1 {
				t.Errorf("RateLimit() = %v/s with a burst of %d: a burst is at least 1", perSecond, burst)
			}
		}
		if rt, ok := dest.(connectors.RequestTimeouter); ok {
			if d := rt.RequestTimeout(); d <= 0 {
				t.Errorf("RequestTimeout() = %v: a request's timeout is more than zero (a run says it while it waits)", d)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, bad := range append(badConfigs(spec.Config, env.Config), env.Invalid...) {
			dest, err := openWith(c, bad.Config, env.Tokens)
			if err == nil {
				dest.Close()
			}
			checkRefused(t, bad, err)
		}
		dest := openDestination(t, c, env, env.Config)
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := dest.Check(ctx); err != nil {
			t.Errorf("Check with the working config: %v", err)
		}
		for _, name := range actionNames(spec) {
			if _, err := dest.Write(ctx, env.batch(name, 1, spec, dest)); err != nil {
				t.Errorf("Write of one record for %s with the working config: %v", name, err)
			}
		}
		drain(env)
		_, err := dest.Write(ctx, env.batch(noSuchAction, 1, spec, dest))
		if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConfiguration {
			t.Errorf("Write for an action the platform does not have gave %v, want a configuration error", err)
		}
		if sent := drain(env); sent > 0 {
			t.Errorf("Write for an action the platform does not have sent %d records", sent)
		}
		// A required setting left empty is the activation's to fix, before anything is sent.
		for _, a := range spec.Actions {
			for _, f := range a.Settings {
				if !f.Required {
					continue
				}
				b := env.batch(a.Name, 1, spec, dest)
				b.Settings = with(connectors.Config(b.Settings), f.Name, "")
				_, err := dest.Write(ctx, b)
				if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConfiguration || ce.Field != f.Name {
					t.Errorf("Write for %s without its setting %s gave %v, want a configuration error on that field", a.Name, f.Name, err)
				}
				if sent := drain(env); sent > 0 {
					t.Errorf("Write for %s without its setting %s sent %d records", a.Name, f.Name, sent)
				}
			}
		}
		if ol, ok := dest.(connectors.OptionLister); ok {
			for _, a := range spec.Actions {
				for _, f := range a.Settings {
					if _, _, err := ol.Options(ctx, a.Name, f.Name); err != nil {
						t.Errorf("Options of %s's setting %s with the working config: %v", a.Name, f.Name, err)
					}
				}
			}
		}
		if env.Failing == nil {
			t.Log("the environment gives no failing config: the errors of a failing backend are not checked")
			return
		}
		failing, err := openWith(c, env.Failing, env.Tokens)
		if err != nil {
			for _, p := range errorProblems(err) {
				t.Errorf("Open of the failing config: %s", p)
			}
			return
		}
		defer failing.Close()
		for _, p := range errorProblems(failing.Check(ctx)) {
			t.Errorf("Check with the failing config: %s", p)
		}
		for _, name := range actionNames(spec) {
			_, err := failing.Write(ctx, env.batch(name, 1, spec, failing))
			for _, p := range errorProblems(err) {
				t.Errorf("Write for %s with the failing config: %s", name, p)
			}
		}
	})
	t.Run("oauth", func(t *testing.T) {
		if spec.Auth != connectors.AuthOAuth {
			t.Skip("not an OAuth kind")
		}
		if env.Tokens == nil {
			t.Fatal("the environment gives an OAuth kind no Tokens")
		}
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		// The token is asked for as requests go, never kept from Open: it is refreshed.
		counted := &countingTokens{Tokens: env.Tokens}
		dest, err := openWith(c, env.Config, counted)
		if err != nil {
			t.Fatalf("the working config does not open: %v", err)
		}
		defer dest.Close()
		for _, name := range actionNames(spec) {
			before := counted.n
			if _, err := dest.Write(ctx, env.batch(name, 1, spec, dest)); err != nil {
				t.Errorf("Write for %s: %v", name, err)
			}
			if counted.n == before {
				t.Errorf("Write for %s did not ask Tokens for the access token: one kept since Open expires", name)
			}
		}
		drain(env)
		// A dead grant is final: the credentials error comes back as it is, and nothing is sent.
		dead := deadGrant{}
		gone, err := openWith(c, env.Config, dead)
		if err != nil {
			if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials {
				t.Errorf("Open with a dead grant gave %v, want nil or its credentials error", err)
			}
			return
		}
		defer gone.Close()
		if ce, ok := connectors.AsError(gone.Check(ctx)); !ok || ce.Category != connectors.CategoryCredentials || ce.Retryable {
			t.Errorf("Check with a dead grant gave %v, want the grant's credentials error, not retryable", ce)
		}
		for _, name := range actionNames(spec) {
			_, err := gone.Write(ctx, env.batch(name, 1, spec, gone))
			if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryCredentials || ce.Retryable {
				t.Errorf("Write for %s with a dead grant gave %v, want the grant's credentials error, not retryable", name, err)
			}
		}
		if sent := drain(env); sent > 0 {
			t.Errorf("with a dead grant, %d records reached the backend", sent)
		}
	})
	t.Run("secrets", func(t *testing.T) {
		secrets := secretFields(spec.Config)
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
				for _, where := range destinationLeaks(c, env, with(base.cfg, name, value), secret) {
					t.Errorf("the %s config with a secret in %s: it shows in %s", base.what, name, where)
				}
			}
		}
		drain(env)
	})
	t.Run("batch limits", func(t *testing.T) {
		if env.Received == nil {
			t.Fatal("the environment does not say what the backend received")
		}
		dest := openDestination(t, c, env, env.Config)
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		for _, name := range actionNames(spec) {
			a, _ := connectors.ActionOf(spec, dest, name)
			if a.BatchSize < 1 {
				t.Errorf("action %s declares no batch size", name)
				continue
			}
			drain(env)
			// A full batch goes through, unless a byte limit makes it too big.
			_, err := dest.Write(ctx, env.batch(name, a.BatchSize, spec, dest))
			reqs := env.Received()
			checkRequests(t, a, reqs)
			switch ce, _ := connectors.AsError(err); {
			case err == nil:
				if n := records(reqs); n != a.BatchSize {
					t.Errorf("action %s: a batch of %d records reached the backend as %d", name, a.BatchSize, n)
				}
			case a.MaxBatchBytes > 0 && ce != nil && ce.Category == connectors.CategoryConfiguration:
			default:
				t.Errorf("action %s: a batch of its batch size, %d records, failed: %v", name, a.BatchSize, err)
			}
			// One record more is split into requests within the limit, or refused whole.
			n := a.BatchSize + 1
			_, err = dest.Write(ctx, env.batch(name, n, spec, dest))
			reqs = env.Received()
			checkRequests(t, a, reqs)
			if err == nil {
				if got := records(reqs); got != n {
					t.Errorf("action %s: a batch of %d records reached the backend as %d", name, n, got)
				}
				continue
			}
			if ce, ok := connectors.AsError(err); !ok || ce.Category != connectors.CategoryConfiguration {
				t.Errorf("action %s: a batch over the batch size of %d gave %v, want it sent in smaller requests or refused as a configuration error (the engine then splits it)", name, a.BatchSize, err)
			}
			if got := records(reqs); got > 0 {
				t.Errorf("action %s: a batch over the limit was refused after %d of its records were sent", name, got)
			}
		}
	})
}

func openWith(c connectors.DestinationConnector, cfg connectors.Config, tokens connectors.Tokens) (connectors.Destination, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return c.Open(ctx, cfg, tokens)
}

// openDestination opens cfg, which must work, and closes it when the test ends.
func openDestination(t *testing.T, c connectors.DestinationConnector, env DestinationEnv, cfg connectors.Config) connectors.Destination {
	t.Helper()
	dest, err := openWith(c, cfg, env.Tokens)
	if err != nil {
		t.Fatalf("the working config does not open: %v", err)
	}
	t.Cleanup(func() { dest.Close() })
	return dest
}

func actionNames(spec connectors.DestinationSpec) []string {
	names := make([]string, len(spec.Actions))
	for i, a := range spec.Actions {
		names[i] = a.Name
	}
	return names
}

// batch is n upserts for the action called name.
func (env DestinationEnv) batch(name string, n int, spec connectors.DestinationSpec, dest connectors.Destination) connectors.Batch {
	fields := env.Fields
	if fields == nil {
		fields = recordFields
	}
	a, ok := connectors.ActionOf(spec, dest, name)
	if !ok && len(spec.Actions) > 0 {
		a = spec.Actions[0]
		a.Name = name
	}
	b := connectors.Batch{ActivationID: "kit_activation", RunID: "kit_run", Action: name, Settings: env.Settings[name], Records: make([]connectors.Record, n)}
	for i := range b.Records {
		b.Records[i] = connectors.Record{Key: fmt.Sprintf("kit-%05d", i), Op: connectors.OpUpsert, Fields: fields(a, i)}
	}
	return b
}

// recordFields is a valid value of each of the action's fields, as the engine hands
// them over (validated and normalized).
func recordFields(a connectors.Action, i int) map[string]any {
	out := map[string]any{}
	for _, f := range a.Fields {
		switch f.Kind {
		case connectors.KindEmail:
			out[f.Name] = fmt.Sprintf("kit%d@example.com", i)
		case connectors.KindPhone:
			out[f.Name] = fmt.Sprintf("+1415555%04d", i%10000)
		case connectors.KindNumber:
			out[f.Name] = float64(i) + 0.5
		case connectors.KindBoolean:
			out[f.Name] = i%2 == 0
		case connectors.KindDatetime:
			out[f.Name] = "2024-05-01T10:00:00Z"
		default:
			out[f.Name] = fmt.Sprintf("Record %d", i)
		}
	}
	if len(a.Fields) == 0 {
		out["email"] = fmt.Sprintf("kit%d@example.com", i)
		out["name"] = fmt.Sprintf("Record %d", i)
	}
	return out
}

// checkRequests checks that no request went over the action's limits.
func checkRequests(t *testing.T, a connectors.Action, reqs []Request) {
	t.Helper()
	for i, r := range reqs {
		if r.Records > a.BatchSize {
			t.Errorf("action %s: request %d carried %d records, over its batch size of %d", a.Name, i+1, r.Records, a.BatchSize)
		}
		if a.MaxBatchBytes > 0 && r.Bytes > a.MaxBatchBytes {
			t.Errorf("action %s: request %d was %d bytes, over its limit of %d", a.Name, i+1, r.Bytes, a.MaxBatchBytes)
		}
	}
}

func records(reqs []Request) int {
	n := 0
	for _, r := range reqs {
		n += r.Records
	}
	return n
}

// drain forgets what the backend received so far and says how many records that was.
func drain(env DestinationEnv) int {
	if env.Received == nil {
		return 0
	}
	return records(env.Received())
}

// destinationLeaks opens cfg, checks it and writes one record of each action, listing
// where secret shows in the errors and request samples.
func destinationLeaks(c connectors.DestinationConnector, env DestinationEnv, cfg connectors.Config, secret string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	var out []string
	note := func(call string, wheres []string) {
		for _, w := range wheres {
			out = append(out, w+" of "+call)
		}
	}
	spec := c.Spec()
	dest, err := c.Open(ctx, cfg, env.Tokens)
	note("Open", leaks(err, secret))
	if err != nil {
		return out
	}
	defer dest.Close()
	note("Check", leaks(dest.Check(ctx), secret))
	for _, name := range actionNames(spec) {
		res, err := dest.Write(ctx, env.batch(name, 1, spec, dest))
		note("Write", leaks(err, secret))
		if res != nil {
			note("Write", exchangeLeaks(res.Exchange, secret))
			for _, r := range res.Rejected {
				if strings.Contains(r.Message, secret) {
					out = append(out, "a rejection of Write")
				}
			}
		}
	}
	return out
}

// countingTokens counts the access tokens asked for.
type countingTokens struct {
	connectors.Tokens
	n int
}

func (c *countingTokens) AccessToken(ctx context.Context) (string, error) {
	c.n++
	return c.Tokens.AccessToken(ctx)
}

// deadGrant is the Tokens of a platform whose refresh token was revoked.
type deadGrant struct{}

func (deadGrant) AccessToken(context.Context) (string, error) {
	return "", &connectors.Error{Category: connectors.CategoryCredentials,
		Message: "The authorization was revoked: re-authorize the platform."}
}
