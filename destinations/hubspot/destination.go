package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is an open HubSpot platform; one may serve several activations at once.
type destination struct {
	base   string
	portal string
	tokens connectors.Tokens
	client *httpdest.Client

	mu        sync.Mutex
	accountOK bool
	known     map[string]bool // "object/property" checked to be a unique-value property
}

// hubspotError is HubSpot's error body; every field is optional (Error handling).
type hubspotError struct {
	Status     string `json:"status"`
	Message    string `json:"message"`
	Category   string `json:"category"`
	PolicyName string `json:"policyName"`
	Errors     []struct {
		Message string              `json:"message"`
		Context map[string][]string `json:"context"`
	} `json:"errors"`
	Context map[string][]string `json:"context"`
}

// request sends one request with a fresh access token (asked for each time: it is
// refreshed ahead of its expiry) and turns any answer but a 2xx into its error. A
// Tokens error is returned as it is: a dead grant is final.
func (d *destination) request(ctx context.Context, method, path string, body []byte) (*httpdest.Response, error) {
	token, err := d.tokens.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/json"}}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(ctx, httpdest.Request{Method: method, URL: d.base + path, Header: h, Body: body, SecretHeaders: []string{"Authorization"}})
	if err != nil {
		return nil, err
	}
	if ce := d.statusError(resp); ce != nil {
		return nil, ce
	}
	return resp, nil
}

// statusError words HubSpot's refusals: httpdest's categories, with HubSpot's own
// categories and scopes in the message.
func (d *destination) statusError(resp *httpdest.Response) *connectors.Error {
	ce := d.client.StatusError(resp)
	if ce == nil {
		return nil
	}
	var he hubspotError
	_ = json.Unmarshal(resp.Body, &he)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized && he.Category == "EXPIRED_AUTHENTICATION":
		ce.Message = "HubSpot refused the access token as expired. Sluice renews tokens before they expire, so the authorization is likely gone: re-authorize the platform with HubSpot."
	case code == http.StatusUnauthorized:
		ce.Message = "HubSpot no longer accepts Sluice's authorization (the app may have been uninstalled from the account): re-authorize the platform with HubSpot."
	case code == http.StatusForbidden && he.Category == "MISSING_SCOPES":
		var scopes []string
		for _, e := range he.Errors {
			scopes = append(scopes, e.Context["requiredGranularScopes"]...)
		}
		ce.Message = "HubSpot refused the request: the authorization lacks the permission (scope) " + strings.Join(scopes, " or ") + ". Re-authorize the platform with HubSpot and grant it."
	case code == http.StatusForbidden:
		ce.Message = "HubSpot refused the request: the user who authorized Sluice may not do this in the account. Re-authorize the platform as a user who may."
	case code == http.StatusTooManyRequests:
		if ce.RetryAfter == 0 {
			// No Retry-After: wait one window of the rolling limit.
			if ms, err := strconv.Atoi(resp.Header.Get("X-HubSpot-RateLimit-Interval-Milliseconds")); err == nil && ms > 0 {
				ce.RetryAfter = time.Duration(ms) * time.Millisecond
			}
		}
		policy := he.PolicyName
		if policy == "" {
			policy = "its rate limit"
		}
		ce.Message = fmt.Sprintf("HubSpot's rate limit (%s) is reached for this account, which other apps installed in it share: Sluice waits and sends again.", policy)
	case code == http.StatusBadRequest && he.Message != "":
		ce.Message = "HubSpot refused the batch: " + readable(he.Message)
	}
	return ce
}

// Check reads the account's details: the token works, and the account is the
// configured Hub ID.
func (d *destination) Check(ctx context.Context) error {
	return d.checkAccount(ctx)
}

func (d *destination) checkAccount(ctx context.Context) error {
	resp, err := d.request(ctx, http.MethodGet, "/account-info/v3/details", nil)
	if err != nil {
		return err
	}
	var details struct {
		PortalID int64 `json:"portalId"`
	}
	if err := json.Unmarshal(resp.Body, &details); err != nil || details.PortalID == 0 {
		return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange,
			Message: "HubSpot's account details could not be read.", Detail: httpdest.Truncate(string(resp.Body), httpdest.MaxDetail)}
	}
	if got := strconv.FormatInt(details.PortalID, 10); d.portal != "" && got != d.portal {
		return &connectors.Error{Category: connectors.CategoryNotFound, Field: "portal_id", Exchange: resp.Exchange,
			Message: fmt.Sprintf("The HubSpot authorization is for the account %s, not for the Hub ID %s this platform is set to: re-authorize with account %s, or correct the Hub ID.", got, d.portal, d.portal)}
	}
	d.mu.Lock()
	d.accountOK = true
	d.mu.Unlock()
	return nil
}

// property is a property as the properties API describes it.
type property struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
}

// usable reports whether records of object can be matched by p.
func usable(object string, p property) bool {
	return p.HasUniqueValue || object == "contacts" && p.Name == "email"
}

// checkProperty proves idProperty is a unique-value property of object, once per
// platform: a deleted property is the activation's setting to fix.
func (d *destination) checkProperty(ctx context.Context, object, idProperty string) error {
	key := object + "/" + idProperty
	d.mu.Lock()
	ok := d.known[key]
	d.mu.Unlock()
	if ok {
		return nil
	}
	what := strings.TrimSuffix(strings.Replace(object, "ies", "y", 1), "s")
	resp, err := d.request(ctx, http.MethodGet, "/crm/v3/properties/"+object+"/"+url.PathEscape(idProperty), nil)
	if ce, isCE := connectors.AsError(err); isCE && ce.Exchange != nil && ce.Exchange.StatusCode == http.StatusNotFound {
		ce.Category, ce.Field = connectors.CategoryNotFound, SettingIDProperty
		ce.Message = fmt.Sprintf("The HubSpot %s property “%s” does not exist (any more): choose another property to match %s by in the activation's settings.", what, idProperty, object)
		return ce
	}
	if err != nil {
		return err
	}
	var p property
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange,
			Message: "HubSpot's description of the property " + idProperty + " could not be read."}
	}
	if !usable(object, p) {
		return &connectors.Error{Category: connectors.CategoryConfiguration, Field: SettingIDProperty, Exchange: resp.Exchange,
			Message: fmt.Sprintf("The HubSpot %s property “%s” does not require unique values, so HubSpot cannot match %s by it: choose a property with unique values in the activation's settings.", what, idProperty, object)}
	}
	d.mu.Lock()
	d.known[key] = true
	d.mu.Unlock()
	return nil
}

// Options lists the properties records of the action's object can be matched by.
func (d *destination) Options(ctx context.Context, action, setting string) ([]connectors.Option, bool, error) {
	object, ok := objects[action]
	if !ok || setting != SettingIDProperty {
		return nil, false, nil
	}
	resp, err := d.request(ctx, http.MethodGet, "/crm/v3/properties/"+object, nil)
	if err != nil {
		return nil, true, err
	}
	var list struct {
		Results []property `json:"results"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return nil, true, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange,
			Message: "HubSpot's list of properties could not be read."}
	}
	var out []connectors.Option
	for _, p := range list.Results {
		if usable(object, p) {
			out = append(out, connectors.Option{Value: p.Name, Label: fmt.Sprintf("%s (%s)", p.Label, p.Name)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Value == "email") != (out[j].Value == "email") {
			return out[i].Value == "email"
		}
		return out[i].Label < out[j].Label
	})
	return out, true, nil
}

// input is one input of a batch upsert. Property values are strings (the API's
// properties are a map of strings).
type input struct {
	IDProperty         string            `json:"idProperty"`
	ID                 string            `json:"id"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId"`
	Properties         map[string]string `json:"properties"`
}

// Write upserts the batch's records, in requests of at most 100 inputs, each carrying an
// objectWriteTraceId so that HubSpot answers a bad record with 207 and its error
// instead of refusing the whole request.
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	object, ok := objects[b.Action]
	if !ok {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: fmt.Sprintf("HubSpot has no action %q; its actions are %s and %s.", b.Action, ActionSyncContacts, ActionSyncCompanies)}
	}
	idProperty := strings.TrimSpace(b.Settings[SettingIDProperty])
	if idProperty == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: SettingIDProperty,
			Message: fmt.Sprintf("Choose the property to match %s by in the activation's settings.", object)}
	}
	for _, r := range b.Records {
		if r.Op != connectors.OpUpsert {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: fmt.Sprintf("Record %q is to be removed, but Sluice never deletes HubSpot %s: it only creates and updates them.", r.Key, object)}
		}
	}
	d.mu.Lock()
	accountOK := d.accountOK
	d.mu.Unlock()
	if d.portal != "" && !accountOK {
		if err := d.checkAccount(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.checkProperty(ctx, object, idProperty); err != nil {
		return nil, err
	}
	res := &connectors.WriteResult{}
	var inputs []input
	var keys []string
	seen := map[string]string{}
	for _, r := range b.Records {
		in, reject := toInput(object, idProperty, r)
		if reject != "" {
			res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key, Message: reject})
			continue
		}
		if first, dup := seen[strings.ToLower(in.ID)]; dup {
			// HubSpot refuses a whole batch holding one id twice.
			res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key,
				Message: fmt.Sprintf("Record %q has the same %s (%s) as record %q in the same batch: HubSpot takes one record per %s.", r.Key, idProperty, in.ID, first, idProperty)})
			continue
		}
		seen[strings.ToLower(in.ID)] = r.Key
		inputs = append(inputs, in)
		keys = append(keys, r.Key)
	}
	for start := 0; start < len(inputs); start += MaxInputs {
		end := min(start+MaxInputs, len(inputs))
		rejected, ex, err := d.upsert(ctx, object, inputs[start:end], keys[start:end])
		if err != nil {
			return nil, err
		}
		res.Rejected = append(res.Rejected, rejected...)
		res.Exchange = ex
	}
	return res, nil
}

// upsert sends one request; trace ids are the inputs' positions in it.
func (d *destination) upsert(ctx context.Context, object string, inputs []input, keys []string) ([]connectors.Rejection, *connectors.Exchange, error) {
	for i := range inputs {
		inputs[i].ObjectWriteTraceID = strconv.Itoa(i)
	}
	body, err := json.Marshal(struct {
		Inputs []input `json:"inputs"`
	}{inputs})
	if err != nil {
		return nil, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The batch could not be written as JSON.", Err: err}
	}
	resp, err := d.request(ctx, http.MethodPost, "/crm/v3/objects/"+object+"/batch/upsert", body)
	if err != nil {
		return nil, nil, err
	}
	var answer struct {
		Errors []hubspotError `json:"errors"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return nil, resp.Exchange, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange,
			Message: "HubSpot's answer to the batch could not be read.", Detail: httpdest.Truncate(string(resp.Body), httpdest.MaxDetail)}
	}
	var out []connectors.Rejection
	for _, e := range answer.Errors {
		for _, trace := range e.Context["objectWriteTraceId"] {
			if i, err := strconv.Atoi(trace); err == nil && i >= 0 && i < len(keys) {
				out = append(out, connectors.Rejection{Key: keys[i], Message: "HubSpot refused it: " + readable(e.Message)})
			}
		}
	}
	return out, resp.Exchange, nil
}

// toInput makes a record an input: its fields as strings (e-mails lower-cased), its id
// from the field named after idProperty, or else its key. reject says why it cannot go.
func toInput(object, idProperty string, r connectors.Record) (input, string) {
	in := input{IDProperty: idProperty, Properties: map[string]string{}}
	for name, v := range r.Fields {
		s, ok := text(v)
		if !ok {
			continue // null leaves HubSpot's value as it is
		}
		if name == "email" {
			s = strings.ToLower(strings.TrimSpace(s))
		}
		in.Properties[name] = s
	}
	in.ID = in.Properties[idProperty]
	if in.ID == "" {
		if object == "contacts" && idProperty == "email" {
			return in, "The record has no e-mail address, which HubSpot matches contacts by."
		}
		in.ID = r.Key
	}
	return in, ""
}

// text is a field's value as HubSpot takes it: numbers without exponent, booleans as
// true/false, times in UTC ISO 8601.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case bool:
		return strconv.FormatBool(v), true
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000Z"), true
	case json.Number:
		return v.String(), true
	}
	return fmt.Sprint(v), true
}

// readable turns HubSpot's "Property values were not valid: [{…}]" into its messages,
// each with the property it is about.
func readable(msg string) string {
	const prefix = "Property values were not valid: "
	if !strings.HasPrefix(msg, prefix) {
		return msg
	}
	var list []struct {
		Message string `json:"message"`
		Name    string `json:"name"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, prefix)), &list); err != nil || len(list) == 0 {
		return msg
	}
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = fmt.Sprintf("%s (property %s)", strings.TrimSuffix(p.Message, "."), p.Name)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ") + "."
}

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
