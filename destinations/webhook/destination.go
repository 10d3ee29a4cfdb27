package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is an open webhook platform. It holds no state between calls, so one may
// serve several activations at once.
type destination struct {
	set    settings
	client *httpdest.Client
	tokens connectors.Tokens // a Target's, nil for a user's webhook
}

// Action returns the webhook's action as this platform's config shapes it: BatchSize
// from batch_size and Removals from send_removals. The Spec's action carries the
// defaults (500, removals possible); whoever builds a run should prefer this one, since
// Write refuses a batch beyond the configured size or with removals the platform does
// not send.
func (d *destination) Action(name string) (connectors.Action, bool) {
	if name != ActionSyncRecords {
		return connectors.Action{}, false
	}
	return SyncRecords(d.set.batchSize, d.set.sendRemovals), true
}

// RateLimit is this platform's configured request rate (requests_per_second), which
// the delivery service's shared limiter takes over the spec's default.
func (d *destination) RateLimit() (perSecond float64, burst int) {
	return float64(d.set.rate), d.set.rate
}

// payload is the body of every request (API.md): the run's identity and its records.
type payload struct {
	ActivationID string       `json:"activation_id"`
	RunID        string       `json:"run_id"`
	Records      []wireRecord `json:"records"`
}

// wireRecord is one record as sent. Fields is a pointer so that an upsert always carries
// an object ({} when nothing is mapped) and a removal carries none.
type wireRecord struct {
	Op     connectors.Op   `json:"op"`
	Key    string          `json:"key"`
	Fields *map[string]any `json:"fields,omitempty"`
}

// Write sends the batch as one POST and reads which records the endpoint rejected. A
// batch larger than the configured batch size, with removals while send_removals is off,
// or with a record the body cannot carry is refused before anything is sent, as a
// configuration error (which the engine answers by splitting the batch, so oversized
// batches still go through in smaller ones).
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	if b.Action != "" && b.Action != ActionSyncRecords {
		return nil, configError("", fmt.Sprintf("The webhook has no action %q; its one action is %s.", b.Action, ActionSyncRecords))
	}
	if len(b.Records) > d.set.batchSize {
		return nil, configError("batch_size", fmt.Sprintf("The batch has %d records, more than this webhook's batch size of %d.", len(b.Records), d.set.batchSize))
	}
	p := payload{ActivationID: b.ActivationID, RunID: b.RunID, Records: make([]wireRecord, 0, len(b.Records))}
	for _, r := range b.Records {
		w := wireRecord{Op: r.Op, Key: r.Key}
		switch r.Op {
		case connectors.OpUpsert:
			fields := r.Fields
			if fields == nil {
				fields = map[string]any{}
			}
			w.Fields = &fields
		case connectors.OpRemove:
			if !d.set.sendRemovals {
				return nil, configError("send_removals", "This webhook is set not to send removals, yet the batch holds record "+strconv.Quote(r.Key)+" to remove.")
			}
		default:
			return nil, configError("", fmt.Sprintf("Record %q has the operation %q; the webhook sends upsert and remove only.", r.Key, r.Op))
		}
		p.Records = append(p.Records, w)
	}
	body, ok := appendPayload(make([]byte, 0, 64+128*len(p.Records)), p)
	if !ok {
		var err error
		if body, err = encode(p); err != nil {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: "The batch holds a value that cannot be written as JSON.", Detail: err.Error(), Err: err}
		}
	}
	resp, err := d.post(ctx, body, nil)
	if err != nil {
		return nil, err
	}
	return &connectors.WriteResult{Rejected: rejections(resp.Body, b.Records), Exchange: resp.Exchange}, nil
}

// Check proves the endpoint answers Sluice without sending any record: it POSTs an empty
// batch, {"activation_id":"","run_id":"","records":[]}, signed like any other and marked
// with the header X-Sluice-Check: 1. A 2xx answer is success; anything else is the error
// Write would have returned (401 credentials, 404 not_found…), so a wrong header or URL
// shows before the first run. An endpoint that does something on every request can skip
// requests carrying X-Sluice-Check.
func (d *destination) Check(ctx context.Context) error {
	body, err := encode(payload{Records: []wireRecord{}})
	if err != nil {
		return err
	}
	_, err = d.post(ctx, body, http.Header{HeaderCheck: {"1"}})
	return err
}

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// post sends body with the configured headers, Sluice's own, and the signature, and
// turns any answer but a 2xx into the error it stands for.
func (d *destination) post(ctx context.Context, body []byte, extra http.Header) (*httpdest.Response, error) {
	h := d.set.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	secret := make([]string, 0, len(d.set.header)+2) // every configured value may be a credential
	for name := range d.set.header {
		secret = append(secret, name)
	}
	if d.tokens != nil {
		token, err := d.tokens.AccessToken(ctx)
		if err != nil {
			return nil, err // a dead grant is final, as for every OAuth platform
		}
		h.Set("Authorization", "Bearer "+token)
		secret = append(secret, "Authorization")
	}
	for name, values := range extra {
		h[name] = values
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	if d.set.secret != "" {
		h.Set(HeaderSignature, Sign([]byte(d.set.secret), body))
		secret = append(secret, HeaderSignature)
	}
	resp, err := d.client.Do(ctx, httpdest.Request{Method: http.MethodPost, URL: d.set.url, Header: h, Body: body, SecretHeaders: secret})
	if err != nil {
		return nil, withURLField(err)
	}
	if ce := d.client.StatusError(resp); ce != nil {
		return nil, withURLField(ce)
	}
	return resp, nil
}

// withURLField points the errors the URL can fix at the url field.
func withURLField(err error) error {
	ce, ok := connectors.AsError(err)
	if !ok {
		return err
	}
	var dnsErr *net.DNSError
	code := 0
	if ce.Exchange != nil {
		code = ce.Exchange.StatusCode
	}
	switch {
	case ce.Field != "":
	case code == http.StatusRequestEntityTooLarge:
		ce.Field = "batch_size"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		ce.Field = "headers"
	case code == http.StatusNotFound || code == http.StatusGone || code == http.StatusMethodNotAllowed || (code >= 300 && code < 400):
		ce.Field = "url"
	case code == 0 && ce.Category == connectors.CategoryConfiguration:
		ce.Field = "url" // private address, certificate, not HTTPS
	case code == 0 && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		ce.Field = "url" // host name does not exist
	}
	return ce
}

// Sign is the X-Sluice-Signature value of body under secret: "sha256=" and the hex
// HMAC-SHA256 of the exact bytes sent.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// encode writes p as compact JSON without HTML escaping, so that the body an endpoint
// logs reads as the values were ("<", "&").
func encode(p payload) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// answer is the optional body of a 2xx answer.
type answer struct {
	Rejected []struct {
		Key     jsonKey `json:"key"`
		Message string  `json:"message"`
	} `json:"rejected"`
}

// jsonKey takes a key written as a string or as a number (an endpoint may echo a numeric
// primary key back unquoted).
type jsonKey string

func (k *jsonKey) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*k = jsonKey(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*k = jsonKey(n.String())
	return nil
}

// rejections reads {"rejected": [{"key", "message"}]} from a 2xx body. An empty body,
// one that is not JSON, or JSON of another shape means every record was accepted (the
// contract makes the list optional); keys that are not in the batch are ignored, and a
// key listed twice counts once.
func rejections(body []byte, records []connectors.Record) []connectors.Rejection {
	var a answer
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &a) != nil || len(a.Rejected) == 0 {
		return nil
	}
	inBatch := make(map[string]bool, len(records))
	for _, r := range records {
		inBatch[r.Key] = true
	}
	seen := map[string]bool{}
	var out []connectors.Rejection
	for _, r := range a.Rejected {
		key := string(r.Key)
		if !inBatch[key] || seen[key] {
			continue
		}
		seen[key] = true
		msg := r.Message
		if msg == "" {
			msg = "The webhook rejected this record without saying why."
		}
		out = append(out, connectors.Rejection{Key: key, Message: msg})
	}
	return out
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
