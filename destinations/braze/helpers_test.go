package braze_test

import (
	"context"
	"testing"

	"sluice/connectors"
	"sluice/destinations/braze"
	fakebraze "sluice/internal/fakes/braze"
)

const testKey = "braze-rest-key-5f0c2a"

// open opens a platform on the fake with the test key.
func open(t *testing.T, f *fakebraze.Server) connectors.Destination {
	t.Helper()
	c := braze.New(braze.Options{AllowPrivate: true, RootCAs: f.RootCAs()})
	d, err := c.Open(context.Background(), connectors.Config{"rest_endpoint": f.URL, "api_key": testKey}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	ce, ok := connectors.AsError(err)
	if !ok {
		t.Fatalf("err = %v (%T), want a *connectors.Error", err, err)
	}
	return ce
}

// tracked are the /users/track requests among reqs.
func tracked(reqs []fakebraze.Request) []fakebraze.Request {
	var out []fakebraze.Request
	for _, r := range reqs {
		if r.Path == "/users/track" {
			out = append(out, r)
		}
	}
	return out
}

func upsert(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Key: key, Op: connectors.OpUpsert, Fields: fields}
}

func remove(key string, fields map[string]any) connectors.Record {
	return connectors.Record{Key: key, Op: connectors.OpRemove, Fields: fields}
}
