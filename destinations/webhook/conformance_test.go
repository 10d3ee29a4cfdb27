package webhook_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"sluice/connectors"
	"sluice/connectors/connectortest"
	"sluice/destinations/webhook"
)

// TestConformance runs the connector kit on two fake endpoints on loopback (hence
// private networks allowed): one takes every batch and counts its records, the other
// answers 401. The kit's secret goes in a header line and in the signing secret.
func TestConformance(t *testing.T) {
	var (
		mu   sync.Mutex
		took []connectortest.Request
	)
	ok := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var p struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		mu.Lock()
		took = append(took, connectortest.Request{Records: len(p.Records), Bytes: len(body)})
		mu.Unlock()
		w.Write([]byte(`{}`))
	})
	refusing := newEndpoint(t, answer(http.StatusUnauthorized, `{"error":"unauthorized"}`))
	cfg := func(kv ...string) connectors.Config {
		c := connectors.Config{"url": ok.URL, "batch_size": "50"}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return c
	}
	connectortest.Destination(t, webhook.NewWithOptions(webhook.Options{AllowPrivate: true}), connectortest.DestinationEnv{
		Config:  cfg(),
		Failing: cfg("url", refusing.URL),
		Invalid: []connectortest.Invalid{
			{Name: "an ftp URL", Config: cfg("url", "ftp://hooks.example.com/"), Field: "url"},
			{Name: "a URL without a host", Config: cfg("url", "https:///sluice"), Field: "url"},
			{Name: "batch size 0", Config: cfg("batch_size", "0"), Field: "batch_size"},
			{Name: "batch size 10,001", Config: cfg("batch_size", "10001"), Field: "batch_size"},
			{Name: "no rate", Config: cfg("requests_per_second", "0"), Field: "requests_per_second"},
			{Name: "a header line without a colon", Config: cfg("headers", "Authorization Bearer x"), Field: "headers"},
			{Name: "a header Sluice sets", Config: cfg("headers", "Content-Type: text/plain"), Field: "headers"},
		},
		Secret: func(field, token string) string {
			if field == "headers" {
				return "Authorization: Bearer " + token
			}
			return token
		},
		Received: func() []connectortest.Request {
			mu.Lock()
			defer mu.Unlock()
			out := took
			took = nil
			return out
		},
	})
}
