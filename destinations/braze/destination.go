package braze

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is an open Braze platform. It may serve several activations at once.
type destination struct {
	base   *url.URL
	key    string
	client *httpdest.Client

	mu sync.Mutex
	// checked holds what the custom attributes export said of each export_list
	// attribute, looked up once per open platform (a run), not once per batch.
	checked map[string]error
}

// Check reads the first page of the workspace's custom attributes: the cheapest
// documented read, it proves the endpoint is a Braze instance, the key is known there,
// and the key may read what the attribute picker lists.
func (d *destination) Check(ctx context.Context) error {
	_, err := d.get(ctx, d.base.JoinPath(pathAttributes).String(), PermCustomAttributesGet)
	return err
}

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// Write sends the batch in requests of at most 75 attributes objects and gathers the
// objects Braze refused. A request refused whole ends the Write with its error, so the
// engine retries the whole batch: requests already taken are sent again, which Braze's
// attribute updates and array set operations take as the same change.
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	p, err := d.plan(b)
	if err != nil {
		return nil, err
	}
	if p.attribute != "" {
		if err := d.checkAttribute(ctx, p.attribute); err != nil {
			return nil, err
		}
	}
	res := &connectors.WriteResult{Rejected: p.rejected}
	for start := 0; start < len(p.objects); start += BatchSize {
		end := min(start+BatchSize, len(p.objects))
		objs := p.objects[start:end]
		body, err := encode(objs)
		if err != nil {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: "The batch holds a value that cannot be written as JSON.", Detail: err.Error(), Err: err}
		}
		resp, err := d.post(ctx, body)
		if err != nil {
			return nil, err
		}
		res.Exchange = resp.Exchange
		res.Rejected = append(res.Rejected, rejections(resp.Body, p.keys[start:end])...)
	}
	return res, nil
}

// plan is a batch turned into attributes objects, with the records refused before
// sending.
type plan struct {
	objects   []map[string]any
	keys      []string // the record key of each object
	rejected  []connectors.Rejection
	attribute string // export_list's array attribute
}

// Names an attributes object gives a meaning of its own, which a mapping may not set.
var reserved = map[string]bool{
	"external_id": true, "user_alias": true, "braze_id": true, "_update_existing_only": true,
	"push_token_import": true, "push_tokens": true, "subscription_groups": true,
}

func (d *destination) plan(b connectors.Batch) (plan, error) {
	var p plan
	match := strings.TrimSpace(b.Settings[SettingMatchBy])
	switch match {
	case "":
		match = MatchExternalID
	case MatchExternalID, MatchEmail:
	default:
		return p, configError(SettingMatchBy, fmt.Sprintf("Match users by is %q; it must be external_id or email. Choose one in the activation's settings.", match))
	}
	var value string
	switch b.Action {
	case ActionSyncUsers:
	case ActionExportList:
		p.attribute = strings.TrimSpace(b.Settings[SettingAttribute])
		value = strings.TrimSpace(b.Settings[SettingValue])
		if p.attribute == "" {
			return p, configError(SettingAttribute, "The activation names no array attribute to keep the audience in: choose one in its settings.")
		}
		if value == "" {
			return p, configError(SettingValue, "The activation gives no audience value to add to the Braze attribute “"+p.attribute+"”: set one in its settings.")
		}
		if msg := attributeNameProblem(p.attribute); msg != "" {
			return p, configError(SettingAttribute, "The array attribute “"+p.attribute+"” "+msg+" Choose another in the activation's settings.")
		}
	default:
		return p, configError("", fmt.Sprintf("Braze has no action %q; its actions are %s and %s.", b.Action, ActionSyncUsers, ActionExportList))
	}
	for _, r := range b.Records {
		id, _ := r.Fields[match].(string)
		id = strings.TrimSpace(id)
		if id == "" {
			p.rejected = append(p.rejected, connectors.Rejection{Key: r.Key,
				Message: "This record has no " + matchLabel(match) + ", which this activation matches Braze users by: map a column to it, or match users by the other identifier."})
			continue
		}
		obj := map[string]any{match: id}
		switch {
		case b.Action == ActionExportList && r.Op == connectors.OpUpsert:
			obj[p.attribute] = map[string]any{"add": []string{value}}
		case b.Action == ActionExportList && r.Op == connectors.OpRemove:
			obj[p.attribute] = map[string]any{"remove": []string{value}}
			obj["_update_existing_only"] = true // leaving an audience never creates a profile
		case r.Op == connectors.OpUpsert:
			for name, v := range r.Fields {
				if name == match || name == MatchExternalID && match == MatchEmail {
					continue
				}
				if msg := attributeNameProblem(name); msg != "" {
					return p, configError("", "The mapped field “"+name+"” "+msg+" Change the activation's field mappings.")
				}
				// A nil value goes as null, which Braze documents as removing the attribute:
				// an emptied column empties the profile's attribute too.
				if name == "dob" {
					v = dateOfBirth(v)
				}
				obj[name] = v
			}
		case r.Op == connectors.OpRemove:
			return p, configError("", "Syncing user profiles sends no removals, yet the batch holds record "+strconv.Quote(r.Key)+" to remove: Braze profiles are deleted in Braze, not by a sync.")
		default:
			return p, configError("", fmt.Sprintf("Record %q has the operation %q; Braze takes upsert and remove only.", r.Key, r.Op))
		}
		p.objects = append(p.objects, obj)
		p.keys = append(p.keys, r.Key)
	}
	return p, nil
}

// dateOfBirth writes a date of birth as Braze's dob takes it, "YYYY-MM-DD"; the
// engine hands datetimes over as RFC 3339 text or time.Time.
func dateOfBirth(v any) any {
	switch t := v.(type) {
	case time.Time:
		return t.Format(time.DateOnly)
	case string:
		if at, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return at.Format(time.DateOnly)
		}
	}
	return v
}

func matchLabel(match string) string {
	if match == MatchEmail {
		return "e-mail address"
	}
	return "external ID"
}

// attributeNameProblem says what is wrong with a custom attribute name, "" if nothing:
// Braze keeps names that start with "$" for itself, and the identifying keys of an
// attributes object cannot be set as attributes.
func attributeNameProblem(name string) string {
	switch {
	case strings.TrimSpace(name) != name || name == "":
		return "is empty or starts or ends with a space."
	case strings.HasPrefix(name, "$"):
		return "starts with $, which Braze keeps for its own attributes."
	case len(name) > 255:
		return "is longer than Braze's 255 characters."
	case reserved[name]:
		return "is a key Braze reads as an identifier or an instruction, not an attribute."
	}
	return ""
}

// encode writes {"attributes": objs} without HTML escaping, so the body reads as the
// values were.
func encode(objs []map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"attributes": objs}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// trackAnswer is the body of a /users/track answer.
type trackAnswer struct {
	Message             string `json:"message"`
	AttributesProcessed *int   `json:"attributes_processed"`
	Errors              []struct {
		Type       string `json:"type"`
		InputArray string `json:"input_array"`
		Index      *int   `json:"index"`
	} `json:"errors"`
}

// rejections reads the refused attributes objects of a 2xx answer, by index into the
// request's "attributes"; keys[i] is the record of object i.
func rejections(body []byte, keys []string) []connectors.Rejection {
	var a trackAnswer
	if json.Unmarshal(body, &a) != nil {
		return nil
	}
	seen := map[int]bool{}
	var out []connectors.Rejection
	for _, e := range a.Errors {
		if e.Index == nil || *e.Index < 0 || *e.Index >= len(keys) || seen[*e.Index] {
			continue
		}
		if e.InputArray != "" && e.InputArray != "attributes" {
			continue
		}
		seen[*e.Index] = true
		out = append(out, connectors.Rejection{Key: keys[*e.Index], Message: rejectionMessage(e.Type)})
	}
	return out
}

// rejectionMessage words Braze's error type for one object.
func rejectionMessage(typ string) string {
	typ = strings.TrimSpace(typ)
	switch {
	case typ == "":
		return "Braze refused this user without saying why."
	case strings.Contains(typ, "blacklisted") || strings.Contains(typ, "blocklisted"):
		return "Braze refuses this external ID as a dummy user's (it said: " + typ + "). Unblock it in Braze or leave the user out of the segment."
	case strings.Contains(typ, "is required"):
		return "Braze found no identifier for this user (it said: " + typ + ")."
	}
	return "Braze refused this user: " + typ + "."
}

// post sends one /users/track request.
func (d *destination) post(ctx context.Context, body []byte) (*httpdest.Response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+d.key)
	h.Set("User-Agent", "Sluice")
	resp, err := d.client.Do(ctx, httpdest.Request{Method: http.MethodPost, URL: d.base.JoinPath(pathTrack).String(),
		Header: h, Body: body, SecretHeaders: []string{"Authorization"}})
	if err != nil {
		return nil, d.scrub(err)
	}
	if ce := d.statusError(resp, PermUsersTrack); ce != nil {
		return nil, d.scrub(ce)
	}
	d.scrubExchange(resp.Exchange)
	return resp, nil
}

// get sends one GET, which needs perm.
func (d *destination) get(ctx context.Context, u, perm string) (*httpdest.Response, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+d.key)
	h.Set("User-Agent", "Sluice")
	resp, err := d.client.Do(ctx, httpdest.Request{Method: http.MethodGet, URL: u, Header: h, SecretHeaders: []string{"Authorization"}})
	if err != nil {
		return nil, d.scrub(err)
	}
	if ce := d.statusError(resp, perm); ce != nil {
		return nil, d.scrub(ce)
	}
	d.scrubExchange(resp.Exchange)
	return resp, nil
}

// statusError words a failed answer: Braze's own "message" goes in the detail, and
// the message says which setting to fix.
func (d *destination) statusError(resp *httpdest.Response, perm string) *connectors.Error {
	ce := d.client.StatusError(resp)
	if ce == nil {
		return nil
	}
	said := ""
	var a trackAnswer
	if json.Unmarshal(resp.Body, &a) == nil && strings.TrimSpace(a.Message) != "" {
		said = " (Braze said: “" + strings.TrimSpace(a.Message) + "”)"
	}
	endpoint := d.base.String()
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized:
		ce.Field = "api_key"
		ce.Message = "Braze at " + endpoint + " refused the REST API key" + said + ": it is wrong, was deleted, or belongs to another Braze instance. " +
			"Copy a key and the REST endpoint from Braze (Settings > APIs and Identifiers) into the platform's settings."
	case code == http.StatusForbidden:
		ce.Field = "api_key"
		ce.Message = "The Braze REST API key lacks the " + perm + " permission, or the Braze account is inactive" + said + ": " +
			"give the key the " + perm + " permission in Braze (Settings > APIs and Identifiers), or use a key that has it."
	case code == http.StatusNotFound:
		ce.Field = "rest_endpoint"
		ce.Message = "Braze at " + endpoint + " does not know this request or this key" + said + ": the REST endpoint is probably not your instance's. " +
			"Copy the REST endpoint from Braze (Settings > APIs and Identifiers) into the platform's settings."
	case code == http.StatusTooManyRequests:
		ce.RetryAfter = retryAfter(resp.Header, time.Now())
		ce.Message = "Braze limits how fast Sluice may send to this workspace" + said + ": it asked to wait " + ce.RetryAfter.String() + ", after which Sluice tries again."
	case code == http.StatusBadRequest:
		ce.Message = "Braze refused the request as sent" + said + ": check the activation's field mappings; Braze's answer is in the run log."
	case code >= 500:
		ce.Message = "Braze failed on its side (" + strconv.Itoa(code) + ")" + said + ": Sluice tries again later; if it lasts, see status.braze.com."
	default:
		ce.Message += said
	}
	return ce
}

// retryAfter is how long Braze asked to wait: Retry-After when present, else until
// X-RateLimit-Reset (UTC epoch seconds), at least a second.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d := httpdest.RetryAfter(h, now); d > 0 {
		return d
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
			reset := time.Unix(0, int64(f*float64(time.Second)))
			if d := reset.Sub(now); d > time.Second {
				return min(d, time.Hour)
			}
		}
	}
	return time.Second
}

// scrub removes the REST API key from an error's texts and sample: an answer may echo
// what it was sent.
func (d *destination) scrub(err error) error {
	ce, ok := connectors.AsError(err)
	if !ok {
		return err
	}
	if d.key == "" {
		return ce
	}
	ce.Message = strings.ReplaceAll(ce.Message, d.key, httpdest.Redacted)
	ce.Detail = strings.ReplaceAll(ce.Detail, d.key, httpdest.Redacted)
	d.scrubExchange(ce.Exchange)
	if ce.Err != nil && strings.Contains(ce.Err.Error(), d.key) {
		ce.Err = errors.New(strings.ReplaceAll(ce.Err.Error(), d.key, httpdest.Redacted))
	}
	return ce
}

func (d *destination) scrubExchange(ex *connectors.Exchange) {
	if ex == nil || d.key == "" {
		return
	}
	ex.RequestBody = strings.ReplaceAll(ex.RequestBody, d.key, httpdest.Redacted)
	ex.ResponseBody = strings.ReplaceAll(ex.ResponseBody, d.key, httpdest.Redacted)
	ex.URL = strings.ReplaceAll(ex.URL, d.key, httpdest.Redacted)
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
