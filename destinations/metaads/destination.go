package metaads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is one opened ad account. Safe for concurrent use by several activations.
type destination struct {
	base    string
	account string // digits, without act_
	tokens  connectors.Tokens
	client  *httpdest.Client

	mu        sync.Mutex
	audiences map[string]string // customer lists of this account already checked: id -> name
}

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// call sends one Graph API request with the access token asked for now (it is
// renewed by re-authorizing) in the Authorization header, never in the URL. A non-2xx
// answer comes back as the *connectors.Error it stands for; at is what a "does not
// exist" answer is about: the setting or config field to fix.
func (d *destination) call(ctx context.Context, method, path string, query, form url.Values, at fault) (*httpdest.Response, error) {
	tok, err := d.tokens.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	u := d.base + "/" + APIVersion + "/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	h := http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
	var body []byte
	if form != nil {
		body = []byte(form.Encode())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := d.client.Do(ctx, httpdest.Request{Method: method, URL: u, Header: h, Body: body, SecretHeaders: []string{"Authorization"}})
	if err != nil {
		return nil, err
	}
	if ce := d.client.StatusError(resp); ce != nil {
		return nil, d.graphError(resp, ce, at)
	}
	return resp, nil
}

// fault says what an unknown-object answer is about.
type fault struct {
	field string // "audience_id" or "ad_account_id"
	what  string // "The custom audience 123" / "The ad account act_123"
}

// graphErrorBody is the Graph API error object.
type graphErrorBody struct {
	Error struct {
		Message        string `json:"message"`
		Type           string `json:"type"`
		Code           int    `json:"code"`
		ErrorSubcode   int    `json:"error_subcode"`
		ErrorUserTitle string `json:"error_user_title"`
		ErrorUserMsg   string `json:"error_user_msg"`
		FBTraceID      string `json:"fbtrace_id"`
	} `json:"error"`
}

var permissionName = regexp.MustCompile(`\b(ads_management|ads_read|business_management|pages_[a-z_]+)\b`)

// graphError words a refused request by Meta's error code, which says more than the
// HTTP status (Meta answers most errors 400): ce is the status's wording, kept for
// whatever the code does not explain.
func (d *destination) graphError(resp *httpdest.Response, ce *connectors.Error, at fault) *connectors.Error {
	var g graphErrorBody
	_ = json.Unmarshal(resp.Body, &g)
	e := g.Error
	said := strings.TrimSpace(e.Message)
	if e.ErrorUserMsg != "" {
		said = e.ErrorUserMsg
	}
	switch {
	case e.Code == 190 || e.Code == 102 || e.Code == 2500 && resp.StatusCode == http.StatusUnauthorized:
		ce.Category, ce.Retryable, ce.RetryAfter = connectors.CategoryCredentials, false, 0
		ce.Message = "Meta no longer accepts Sluice's access to this ad account: the authorization expired (it lasts about 60 days) or was revoked. Re-authorize the Meta Ads platform."
	case e.Code == 10 || e.Code == 3 || e.Code >= 200 && e.Code <= 299 || e.Code == 294:
		perm := "ads_management"
		if m := permissionName.FindString(e.Message); m != "" {
			perm = m
		}
		ce.Category, ce.Retryable, ce.RetryAfter = connectors.CategoryCredentials, false, 0
		ce.Message = fmt.Sprintf("Meta denied the %s permission for ad account act_%s: re-authorize the Meta Ads platform granting %s, with a Facebook user who can manage that ad account.", perm, d.account, perm)
	case throttling(e.Code):
		ce.Category, ce.Retryable = connectors.CategoryRateLimit, true
		ce.RetryAfter = max(ce.RetryAfter, httpdest.RetryAfter(resp.Header, time.Now()), regainAccess(resp.Header))
		if ce.RetryAfter == 0 && e.Code != 4 {
			ce.RetryAfter = time.Minute // the documented block of an ad account over its score
		}
		ce.Message = fmt.Sprintf("Meta is limiting how fast Sluice may send to ad account act_%s (error %d: %s).", d.account, e.Code, strings.TrimSpace(e.Message))
	case e.Code == 100 && e.ErrorSubcode == 33 || resp.StatusCode == http.StatusNotFound:
		ce.Category, ce.Retryable, ce.RetryAfter = connectors.CategoryNotFound, false, 0
		ce.Field = at.field
		if at.field == SettingAudience {
			ce.Message = at.what + " does not exist any more, or the authorizing user cannot reach it: choose another audience in the activation's settings."
		} else {
			ce.Message = at.what + " does not exist, or the authorizing user cannot reach it: check the ad account ID in the platform's settings."
		}
	case e.Code == 100 && e.ErrorSubcode == 1713230:
		ce.Category, ce.Retryable, ce.RetryAfter = connectors.CategoryConfiguration, false, 0
		ce.Field = SettingAudience
		ce.Message = at.what + " is blocked by Meta: " + said
	case e.Code == 1 || e.Code == 2 || resp.StatusCode >= 500:
		ce.Category, ce.Retryable = connectors.CategoryConnection, true
		ce.Message = "Meta failed on its side" + sentence(said)
	case said != "":
		ce.Message = "Meta refused the request: " + strings.TrimSuffix(said, ".") + "."
	}
	return ce
}

func sentence(s string) string {
	if s == "" {
		return "."
	}
	return ": " + strings.TrimSuffix(s, ".") + "."
}

// throttling codes: 4 (app), 17 (user / ad account), 32 (page), 341 (app limit), 613
// (ad account calls), 80000-80014 (business use cases; 80003 custom audiences).
func throttling(code int) bool {
	switch {
	case code == 4, code == 17, code == 32, code == 341, code == 613:
		return true
	case code >= 80000 && code <= 80014:
		return true
	}
	return false
}

// regainAccess reads X-Business-Use-Case-Usage ({"<business id>": [{"type": …,
// "estimated_time_to_regain_access": minutes, …}]}) and returns the longest wait it
// names.
func regainAccess(h http.Header) time.Duration {
	v := h.Get("X-Business-Use-Case-Usage")
	if v == "" {
		return 0
	}
	var usage map[string][]struct {
		Minutes float64 `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(v), &usage) != nil {
		return 0
	}
	longest := 0.0
	for _, list := range usage {
		for _, u := range list {
			longest = math.Max(longest, u.Minutes)
		}
	}
	return time.Duration(math.Min(longest, 24*60) * float64(time.Minute))
}

// Check proves the token still carries ads_management and reaches the ad account: two
// cheap reads.
func (d *destination) Check(ctx context.Context) error {
	acct := fault{field: "ad_account_id", what: "The ad account act_" + d.account}
	resp, err := d.call(ctx, http.MethodGet, "me/permissions", nil, nil, acct)
	if err != nil {
		return err
	}
	var perms struct {
		Data []struct {
			Permission string `json:"permission"`
			Status     string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &perms); err != nil {
		return unreadable(resp, err)
	}
	granted := false
	for _, p := range perms.Data {
		if p.Permission == "ads_management" && p.Status == "granted" {
			granted = true
		}
	}
	if !granted {
		return &connectors.Error{Category: connectors.CategoryCredentials, Exchange: resp.Exchange,
			Detail:  httpdest.Truncate(string(resp.Body), httpdest.MaxDetail),
			Message: "The Facebook user who authorized Sluice did not grant the ads_management permission: re-authorize the Meta Ads platform and allow Sluice to manage your ads."}
	}
	_, err = d.call(ctx, http.MethodGet, "act_"+d.account, url.Values{"fields": {"id,name,account_status"}}, nil, acct)
	return err
}

func unreadable(resp *httpdest.Response, err error) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true, Exchange: resp.Exchange, Err: err,
		Detail:  httpdest.Truncate(string(resp.Body), httpdest.MaxDetail),
		Message: "Meta answered with something that is not the Graph API's JSON."}
}

// Options lists the ad account's customer list custom audiences, the only kind that
// takes users, following the after cursor (never the answer's next URL, which names
// Meta's host whatever BaseURL is).
func (d *destination) Options(ctx context.Context, action, setting string) ([]connectors.Option, bool, error) {
	if action != ActionExportAudience || setting != SettingAudience {
		return nil, false, nil
	}
	acct := fault{field: "ad_account_id", what: "The ad account act_" + d.account}
	var out []connectors.Option
	q := url.Values{"fields": {"id,name,subtype"}, "limit": {"500"}}
	for page := 0; page < 40; page++ {
		resp, err := d.call(ctx, http.MethodGet, "act_"+d.account+"/customaudiences", q, nil, acct)
		if err != nil {
			return nil, true, err
		}
		var list struct {
			Data []struct {
				ID      string `json:"id"`
				Name    string `json:"name"`
				Subtype string `json:"subtype"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := json.Unmarshal(resp.Body, &list); err != nil {
			return nil, true, unreadable(resp, err)
		}
		for _, a := range list.Data {
			if a.Subtype == "CUSTOM" {
				out = append(out, connectors.Option{Value: a.ID, Label: fmt.Sprintf("%s (%s)", a.Name, a.ID)})
			}
		}
		if list.Paging.Next == "" || list.Paging.Cursors.After == "" {
			break
		}
		q.Set("after", list.Paging.Cursors.After)
	}
	return out, true, nil
}

// Write sends the batch's upserts with POST and its removals with DELETE to the
// audience's /users edge, in calls of at most 10,000 users. Records without an e-mail or
// a phone are rejected before sending; entries Meta samples as invalid are rejected by
// the identifier that names them.
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	if b.Action != ActionExportAudience {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: fmt.Sprintf("Meta Ads has no action %q; its one action is %s.", b.Action, ActionExportAudience)}
	}
	audience := strings.TrimSpace(b.Settings[SettingAudience])
	if audience == "" {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: SettingAudience,
			Message: "The activation names no custom audience: choose one in its settings."}
	}
	if !isDigits(audience) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: SettingAudience,
			Message: fmt.Sprintf("The custom audience %q is not a Meta audience ID (a number): choose one in the activation's settings.", audience)}
	}
	res := &connectors.WriteResult{}
	schema := schemaOf(b.Records)
	var adds, removes []prepared
	for _, r := range b.Records {
		p, ok := prepare(r, schema)
		if !ok {
			res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key,
				Message: "The record has no e-mail or phone Meta can match people by."})
			continue
		}
		switch r.Op {
		case connectors.OpUpsert:
			adds = append(adds, p)
		case connectors.OpRemove:
			removes = append(removes, p)
		default:
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: fmt.Sprintf("Record %q has the operation %q; Meta Ads takes upsert and remove only.", r.Key, r.Op)}
		}
	}
	if len(adds)+len(removes) == 0 {
		return res, nil
	}
	if err := d.checkAudience(ctx, audience); err != nil {
		return nil, err
	}
	for _, op := range []struct {
		method string
		rows   []prepared
	}{{http.MethodPost, adds}, {http.MethodDelete, removes}} {
		for start := 0; start < len(op.rows); start += MaxUsers {
			chunk := op.rows[start:min(start+MaxUsers, len(op.rows))]
			rejected, ex, err := d.send(ctx, op.method, audience, schema, chunk)
			if err != nil {
				return nil, err
			}
			res.Rejected = append(res.Rejected, rejected...)
			res.Exchange = ex
		}
	}
	return res, nil
}

// checkAudience makes sure, once per audience, that it is a customer list of this ad
// account: an audience of another account or of another kind is a setting to fix, and
// saying so beats Meta's generic refusal.
func (d *destination) checkAudience(ctx context.Context, id string) error {
	d.mu.Lock()
	_, known := d.audiences[id]
	d.mu.Unlock()
	if known {
		return nil
	}
	at := fault{field: SettingAudience, what: "The custom audience " + id}
	resp, err := d.call(ctx, http.MethodGet, id, url.Values{"fields": {"id,name,account_id,subtype"}}, nil, at)
	if err != nil {
		return err
	}
	var a struct {
		Name      string `json:"name"`
		AccountID string `json:"account_id"`
		Subtype   string `json:"subtype"`
	}
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		return unreadable(resp, err)
	}
	named := fmt.Sprintf("The custom audience “%s” (id %s)", a.Name, id)
	switch {
	case a.AccountID != "" && strings.TrimPrefix(a.AccountID, "act_") != d.account:
		return &connectors.Error{Category: connectors.CategoryNotFound, Field: SettingAudience, Exchange: resp.Exchange,
			Message: fmt.Sprintf("%s belongs to another ad account than act_%s: choose one of this account's audiences in the activation's settings.", named, d.account)}
	case a.Subtype != "" && a.Subtype != "CUSTOM":
		return &connectors.Error{Category: connectors.CategoryConfiguration, Field: SettingAudience, Exchange: resp.Exchange,
			Message: fmt.Sprintf("%s is a %s audience, and only customer list audiences take records: choose another in the activation's settings.", named, strings.ToLower(a.Subtype))}
	}
	d.mu.Lock()
	d.audiences[id] = a.Name
	d.mu.Unlock()
	return nil
}

// audienceName names an audience for a message, by its name when a check read it.
func (d *destination) audienceName(id string) string {
	d.mu.Lock()
	name := d.audiences[id]
	d.mu.Unlock()
	if name == "" {
		return "The custom audience " + id
	}
	return fmt.Sprintf("The custom audience “%s” (id %s)", name, id)
}

// usersAnswer is the /users edge's answer.
type usersAnswer struct {
	AudienceID          string            `json:"audience_id"`
	SessionID           string            `json:"session_id"`
	NumReceived         int               `json:"num_received"`
	NumInvalidEntries   int               `json:"num_invalid_entries"`
	InvalidEntrySamples map[string]string `json:"invalid_entry_samples"`
}

func (d *destination) send(ctx context.Context, method, audience string, schema []string, rows []prepared) ([]connectors.Rejection, *connectors.Exchange, error) {
	data := make([][]string, len(rows))
	for i, r := range rows {
		data[i] = r.values
	}
	body, err := json.Marshal(map[string]any{"schema": schema, "data": data})
	if err != nil {
		return nil, nil, &connectors.Error{Category: connectors.CategoryConfiguration, Message: "The batch could not be written as JSON.", Err: err}
	}
	at := fault{field: SettingAudience, what: d.audienceName(audience)}
	resp, err := d.call(ctx, method, audience+"/users", nil, url.Values{"payload": {string(body)}}, at)
	if err != nil {
		return nil, nil, err
	}
	var a usersAnswer
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		return nil, nil, unreadable(resp, err)
	}
	if a.NumInvalidEntries == 0 || len(a.InvalidEntrySamples) == 0 {
		return nil, resp.Exchange, nil
	}
	byValue := map[string][]string{}
	for _, r := range rows {
		for _, v := range r.values {
			if v != "" {
				byValue[v] = append(byValue[v], r.key)
			}
		}
	}
	var out []connectors.Rejection
	seen := map[string]bool{}
	for value, reason := range a.InvalidEntrySamples {
		for _, key := range byValue[value] {
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, connectors.Rejection{Key: key, Message: "Meta counted this record as an invalid entry" + sentence(reason)})
		}
	}
	return out, resp.Exchange, nil
}

// The identifiers Sluice maps, in the order of the schema it sends, with Meta's key.
var keys = []struct{ field, schema string }{
	{"email", "EMAIL"}, {"phone", "PHONE"}, {"first_name", "FN"}, {"last_name", "LN"},
}

// schemaOf is the multi-key schema of a batch: the keys any of its records has.
func schemaOf(records []connectors.Record) []string {
	var out []string
	for _, k := range keys {
		for _, r := range records {
			if s, _ := r.Fields[k.field].(string); strings.TrimSpace(s) != "" {
				out = append(out, k.schema)
				break
			}
		}
	}
	return out
}

// prepared is one record's row: the hashes in schema order ("" where it has none).
type prepared struct {
	key    string
	values []string
}

func prepare(r connectors.Record, schema []string) (prepared, bool) {
	p := prepared{key: r.Key, values: make([]string, len(schema))}
	usable := false
	for i, key := range schema {
		field := ""
		for _, k := range keys {
			if k.schema == key {
				field = k.field
			}
		}
		raw, _ := r.Fields[field].(string)
		v := Normalize(key, raw)
		if v == "" {
			continue
		}
		p.values[i] = Hash(v)
		if key == "EMAIL" || key == "PHONE" {
			usable = true
		}
	}
	return p, usable
}

// Normalize is a value as Meta documents it before hashing: EMAIL trimmed and
// lower-cased; PHONE its digits only, country code included, without + or leading
// zeros; FN and LN lower-cased letters only (accents kept, UTF-8).
func Normalize(key, v string) string {
	v = strings.TrimSpace(v)
	switch key {
	case "EMAIL":
		return strings.ToLower(v)
	case "PHONE":
		var b strings.Builder
		for _, r := range v {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		return strings.TrimLeft(b.String(), "0")
	case "FN", "LN":
		var b strings.Builder
		for _, r := range strings.ToLower(v) {
			if unicode.IsLetter(r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return v
}

// Hash is the lower-case hex SHA-256 of a normalized value.
func Hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
