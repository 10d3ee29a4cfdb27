package googleads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is an open Google Ads platform. It keeps no state between calls, so
// activations may share it.
type destination struct {
	set    settings
	base   string // ProductionURL + "/v23"
	tokens connectors.Tokens
	client *httpdest.Client
}

// RateLimit is the pacing of this platform's developer token access level.
func (d *destination) RateLimit() (perSecond float64, burst int) {
	switch d.set.accessLevel {
	case AccessExplorer:
		return ExplorerPerSecond, ExplorerBurst
	case AccessStandard:
		return StandardPerSecond, StandardBurst
	}
	return BasicPerSecond, BasicBurst
}

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// Check proves the token, developer token and account with the cheapest call there is:
// one GAQL query for the account's own name (one operation).
func (d *destination) Check(ctx context.Context) error {
	_, err := d.search(ctx, "SELECT customer.id, customer.descriptive_name FROM customer LIMIT 1", "")
	return err
}

// Options lists the account's Customer Match lists and conversion actions.
func (d *destination) Options(ctx context.Context, action, setting string) ([]connectors.Option, bool, error) {
	var query, resource string
	switch {
	case action == ActionExportAudience && setting == "user_list":
		query, resource = "SELECT user_list.id, user_list.name FROM user_list WHERE user_list.type = 'CRM_BASED'", "userList"
	case action == ActionAdjustConversions && setting == "conversion_action":
		query, resource = "SELECT conversion_action.id, conversion_action.name FROM conversion_action WHERE conversion_action.status = 'ENABLED'", "conversionAction"
	default:
		return nil, false, nil
	}
	rows, err := d.search(ctx, query, setting)
	if err != nil {
		return nil, true, err
	}
	out := make([]connectors.Option, 0, len(rows))
	for _, row := range rows {
		var r struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if json.Unmarshal(row[resource], &r) == nil && r.ID != "" {
			out = append(out, connectors.Option{Value: r.ID, Label: r.Name})
		}
	}
	return out, true, nil
}

// search runs a GAQL query through googleAds:search, page after page.
func (d *destination) search(ctx context.Context, query, field string) ([]map[string]json.RawMessage, error) {
	var rows []map[string]json.RawMessage
	token := ""
	for page := 0; page < 100; page++ {
		req := map[string]string{"query": query}
		if token != "" {
			req["pageToken"] = token
		}
		resp, err := d.post(ctx, "/customers/"+d.set.customerID+"/googleAds:search", req, field)
		if err != nil {
			return nil, err
		}
		var answer struct {
			Results       []map[string]json.RawMessage `json:"results"`
			NextPageToken string                       `json:"nextPageToken"`
		}
		if err := json.Unmarshal(resp.Body, &answer); err != nil {
			return nil, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange, Err: err,
				Message: "Google Ads answered a search with something that is not its JSON.", Detail: err.Error()}
		}
		rows = append(rows, answer.Results...)
		if token = answer.NextPageToken; token == "" {
			break
		}
	}
	return rows, nil
}

// Write sends one batch to the action's service.
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	switch b.Action {
	case ActionExportAudience:
		return d.exportAudience(ctx, b)
	case ActionAdjustConversions:
		return d.adjustConversions(ctx, b)
	}
	return nil, configError("", fmt.Sprintf("Google Ads has no action %q; its actions are %s and %s.", b.Action, ActionExportAudience, ActionAdjustConversions))
}

// userIdentifier is a UserIdentifier with one hashed value.
type userIdentifier struct {
	HashedEmail       string `json:"hashedEmail,omitempty"`
	HashedPhoneNumber string `json:"hashedPhoneNumber,omitempty"`
}

type userData struct {
	UserIdentifiers []userIdentifier `json:"userIdentifiers"`
}

type jobOperation struct {
	Create *userData `json:"create,omitempty"`
	Remove *userData `json:"remove,omitempty"`
}

// exportAudience adds the batch's upserts to the Customer Match list and removes its
// removals: one job for each (the service refuses both in one job), each created,
// given its operations in requests of at most AudienceBatchSize, and run.
func (d *destination) exportAudience(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	list, err := settingID(b.Settings, "user_list", "userLists", "customer list")
	if err != nil {
		return nil, err
	}
	res := &connectors.WriteResult{}
	var adds, removes []jobOp
	for _, r := range b.Records {
		ids, why := identifiers(r.Fields)
		if why != "" {
			res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key, Message: why})
			continue
		}
		switch r.Op {
		case connectors.OpUpsert:
			adds = append(adds, jobOp{key: r.Key, op: jobOperation{Create: &userData{ids}}})
		case connectors.OpRemove:
			removes = append(removes, jobOp{key: r.Key, op: jobOperation{Remove: &userData{ids}}})
		default:
			return nil, configError("", fmt.Sprintf("Record %q has the operation %q; Google Ads adds (upsert) and removes only.", r.Key, r.Op))
		}
	}
	for _, ops := range [][]jobOp{adds, removes} {
		if len(ops) == 0 {
			continue
		}
		rejected, ex, err := d.runJob(ctx, list, ops)
		if err != nil {
			return nil, err
		}
		res.Rejected = append(res.Rejected, rejected...)
		res.Exchange = ex
	}
	return res, nil
}

type jobOp struct {
	key string
	op  jobOperation
}

func (d *destination) runJob(ctx context.Context, list string, ops []jobOp) ([]connectors.Rejection, *connectors.Exchange, error) {
	job := map[string]any{"job": map[string]any{
		"type":                          "CUSTOMER_MATCH_USER_LIST",
		"customerMatchUserListMetadata": map[string]string{"userList": "customers/" + d.set.customerID + "/userLists/" + list},
	}}
	resp, err := d.post(ctx, "/customers/"+d.set.customerID+"/offlineUserDataJobs:create", job, "user_list")
	if err != nil {
		return nil, nil, err
	}
	var created struct {
		ResourceName string `json:"resourceName"`
	}
	if json.Unmarshal(resp.Body, &created) != nil || !strings.HasPrefix(created.ResourceName, "customers/") {
		return nil, nil, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange,
			Message: "Google Ads created the upload job without saying its name.", Detail: httpdest.Truncate(string(resp.Body), httpdest.MaxDetail)}
	}
	var rejected []connectors.Rejection
	var ex *connectors.Exchange
	for start := 0; start < len(ops); start += AudienceBatchSize {
		chunk := ops[start:min(start+AudienceBatchSize, len(ops))]
		body := struct {
			EnablePartialFailure bool           `json:"enablePartialFailure"`
			Operations           []jobOperation `json:"operations"`
		}{EnablePartialFailure: true, Operations: make([]jobOperation, len(chunk))}
		for i, o := range chunk {
			body.Operations[i] = o.op
		}
		resp, err := d.post(ctx, "/"+created.ResourceName+":addOperations", body, "user_list")
		if err != nil {
			return nil, nil, err
		}
		ex = resp.Exchange
		var answer struct {
			PartialFailureError *rpcStatus `json:"partialFailureError"`
		}
		_ = json.Unmarshal(resp.Body, &answer)
		keys := make([]string, len(chunk))
		for i, o := range chunk {
			keys[i] = o.key
		}
		rejected = append(rejected, partialRejections(answer.PartialFailureError, "operations", keys)...)
	}
	if _, err := d.post(ctx, "/"+created.ResourceName+":run", struct{}{}, "user_list"); err != nil {
		return nil, nil, err
	}
	return rejected, ex, nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// identifiers are a record's hashed e-mail and phone, or why it has none Google Ads
// can match.
func identifiers(fields map[string]any) ([]userIdentifier, string) {
	var ids []userIdentifier
	if v, ok := text(fields["email"]); ok && v != "" {
		e := NormalizeEmail(v)
		if !strings.Contains(e, "@") {
			return nil, fmt.Sprintf("The e-mail address %q is not one Google Ads can match.", v)
		}
		ids = append(ids, userIdentifier{HashedEmail: Hash(e)})
	}
	if v, ok := text(fields["phone"]); ok && v != "" {
		p := NormalizePhone(v)
		if !e164.MatchString(p) {
			return nil, fmt.Sprintf("The phone number %q is not in E.164 form (+ and the country code, e.g. +14155550123).", v)
		}
		ids = append(ids, userIdentifier{HashedPhoneNumber: Hash(p)})
	}
	if len(ids) == 0 {
		return nil, "The record has no e-mail address nor phone number for Google Ads to match: map at least one of them."
	}
	return ids, ""
}

// NormalizeEmail is an e-mail as Customer Match hashes it: leading and trailing
// whitespace removed, lower-cased.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone is a phone as Customer Match hashes it: E.164, with its +, nothing
// around it (the engine hands phones over in E.164 already).
func NormalizePhone(s string) string { return strings.TrimSpace(s) }

// Hash is the lower-case hex SHA-256 of a normalized value, as Google Ads takes it.
func Hash(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

type restatementValue struct {
	AdjustedValue float64 `json:"adjustedValue"`
	CurrencyCode  string  `json:"currencyCode,omitempty"`
}

type conversionAdjustment struct {
	OrderID            string            `json:"orderId"`
	ConversionAction   string            `json:"conversionAction"`
	AdjustmentType     string            `json:"adjustmentType"`
	AdjustmentDateTime string            `json:"adjustmentDateTime,omitempty"`
	RestatementValue   *restatementValue `json:"restatementValue,omitempty"`
	UserIdentifiers    []userIdentifier  `json:"userIdentifiers,omitempty"`
}

// adjustConversions uploads one adjustment per record with partialFailure, in requests
// of at most AdjustmentBatchSize; the adjustments Google Ads refuses (an unknown order
// id: CONVERSION_NOT_FOUND) come back as rejections of their records.
func (d *destination) adjustConversions(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	action, err := settingID(b.Settings, "conversion_action", "conversionActions", "conversion action")
	if err != nil {
		return nil, err
	}
	kind := b.Settings["adjustment_type"]
	switch kind {
	case "RESTATEMENT", "RETRACTION", "ENHANCEMENT":
	case "":
		return nil, configError("adjustment_type", "Choose the kind of adjustment (restatement, retraction or enhancement) in the activation's settings.")
	default:
		return nil, configError("adjustment_type", fmt.Sprintf("The adjustment %q is not one Google Ads knows: choose RESTATEMENT, RETRACTION or ENHANCEMENT.", kind))
	}
	resource := "customers/" + d.set.customerID + "/conversionActions/" + action
	res := &connectors.WriteResult{}
	var adjs []conversionAdjustment
	var keys []string
	for _, r := range b.Records {
		if r.Op != connectors.OpUpsert {
			return nil, configError("", fmt.Sprintf("Record %q has the operation %q; conversion adjustments are only sent, never removed.", r.Key, r.Op))
		}
		a, why := adjustment(r.Fields, resource, kind)
		if why != "" {
			res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key, Message: why})
			continue
		}
		adjs = append(adjs, a)
		keys = append(keys, r.Key)
	}
	for start := 0; start < len(adjs); start += AdjustmentBatchSize {
		end := min(start+AdjustmentBatchSize, len(adjs))
		body := struct {
			ConversionAdjustments []conversionAdjustment `json:"conversionAdjustments"`
			PartialFailure        bool                   `json:"partialFailure"`
		}{adjs[start:end], true}
		resp, err := d.post(ctx, "/customers/"+d.set.customerID+":uploadConversionAdjustments", body, "conversion_action")
		if err != nil {
			return nil, err
		}
		res.Exchange = resp.Exchange
		var answer struct {
			PartialFailureError *rpcStatus `json:"partialFailureError"`
		}
		_ = json.Unmarshal(resp.Body, &answer)
		// The action is the activation's setting: gone, it fails every record alike.
		if code := answer.PartialFailureError.first("conversionAdjustmentUploadError", "NO_CONVERSION_ACTION_FOUND"); code != nil {
			return nil, &connectors.Error{Category: connectors.CategoryNotFound, Field: "conversion_action", Exchange: resp.Exchange,
				Message: fmt.Sprintf("The conversion action %s does not exist in the Google Ads account %s: choose another in the activation's settings.", action, dashed(d.set.customerID)),
				Detail:  code.Message}
		}
		res.Rejected = append(res.Rejected, partialRejections(answer.PartialFailureError, "conversion_adjustments", keys[start:end])...)
	}
	return res, nil
}

// adjustment is one record's ConversionAdjustment, or why it cannot be one.
func adjustment(fields map[string]any, action, kind string) (conversionAdjustment, string) {
	a := conversionAdjustment{ConversionAction: action, AdjustmentType: kind}
	order, _ := text(fields["order_id"])
	if a.OrderID = strings.TrimSpace(order); a.OrderID == "" {
		return a, "The record has no order ID, which Google Ads needs to find the conversion to adjust."
	}
	if v, ok := fields["adjustment_date_time"]; ok && v != nil {
		t, ok := datetime(v)
		if !ok {
			return a, fmt.Sprintf("The adjustment time %v is not a date and time.", v)
		}
		a.AdjustmentDateTime = t
	} else if kind != "ENHANCEMENT" {
		return a, "The record has no adjustment time, which Google Ads needs for a " + strings.ToLower(kind) + "."
	}
	switch kind {
	case "RESTATEMENT":
		value, ok := number(fields["restatement_value"])
		if !ok {
			return a, "The record has no restated value, which a restatement needs."
		}
		cur, _ := text(fields["currency_code"])
		a.RestatementValue = &restatementValue{AdjustedValue: value, CurrencyCode: strings.ToUpper(strings.TrimSpace(cur))}
	case "ENHANCEMENT":
		ids, why := identifiers(fields)
		if why != "" {
			return a, why
		}
		a.UserIdentifiers = ids
	}
	return a, ""
}

// datetime is a value in Google Ads' adjustment format, "yyyy-mm-dd hh:mm:ss+|-hh:mm".
func datetime(v any) (string, bool) {
	const layout = "2006-01-02 15:04:05-07:00"
	switch t := v.(type) {
	case time.Time:
		return t.Format(layout), true
	case string:
		for _, in := range []string{time.RFC3339Nano, layout} {
			if p, err := time.Parse(in, strings.TrimSpace(t)); err == nil {
				return p.Format(layout), true
			}
		}
	}
	return "", false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

func text(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case nil:
		return "", false
	case fmt.Stringer:
		return s.String(), true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case int, int64:
		return fmt.Sprint(s), true
	}
	return "", false
}

// settingID reads a setting naming a resource by its id (or its resource name).
func settingID(set map[string]string, name, collection, what string) (string, error) {
	v := strings.TrimSpace(set[name])
	if v == "" {
		return "", configError(name, "Choose the "+what+" in the activation's settings.")
	}
	if i := strings.LastIndex(v, "/"+collection+"/"); i >= 0 {
		v = v[i+len(collection)+2:]
	}
	if _, err := strconv.ParseUint(v, 10, 64); err != nil {
		return "", configError(name, fmt.Sprintf("The %s %q is not a Google Ads ID: choose one from the list in the activation's settings.", what, set[name]))
	}
	return v, nil
}

// post sends one API call with a fresh access token and turns any answer but a 2xx
// into the error it stands for; field is the setting an unknown resource points at.
func (d *destination) post(ctx context.Context, path string, payload any, field string) (*httpdest.Response, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The batch holds a value that cannot be written as JSON.", Detail: err.Error(), Err: err}
	}
	// Asked for before each request: Sluice refreshes it ahead of its expiry.
	token, err := d.tokens.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("developer-token", d.set.developerToken)
	if d.set.loginID != "" {
		h.Set("login-customer-id", d.set.loginID)
	}
	h.Set("Content-Type", "application/json")
	resp, err := d.client.Do(ctx, httpdest.Request{Method: http.MethodPost, URL: d.base + path, Header: h,
		Body: bytes.TrimSuffix(buf.Bytes(), []byte("\n")), SecretHeaders: []string{"Authorization", "developer-token"}})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, d.failure(resp, field)
	}
	return resp, nil
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
