package klaviyo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/destinations/httpdest"
)

// destination is an open Klaviyo account. It holds no state between Writes beyond its
// pacers, so one may serve several activations at once.
type destination struct {
	base         string
	key          string
	pollInterval time.Duration
	jobTimeout   time.Duration
	client       *httpdest.Client
	polls        *connectors.Limiter
	lookups      *connectors.Limiter
	removes      *connectors.Limiter
}

// endpoint is what a request does, for messages: its name in words and the scopes its
// reference page lists.
type endpoint struct {
	doing  string
	scopes []string
	// listID is the list the request is about, when a 404 means that list is gone.
	listID string
}

var (
	epImport  = endpoint{doing: "importing profiles", scopes: []string{"lists:write", "profiles:write"}}
	epJob     = endpoint{doing: "reading an import job's progress", scopes: []string{"lists:read", "profiles:read"}}
	epErrors  = endpoint{doing: "reading an import job's errors", scopes: []string{"profiles:read"}}
	epLists   = endpoint{doing: "listing lists", scopes: []string{"lists:read"}}
	epLookup  = endpoint{doing: "looking up profiles to remove from a list", scopes: []string{"profiles:read"}}
	epRemove  = endpoint{doing: "removing profiles from a list", scopes: []string{"lists:write", "profiles:write"}}
	epAccount = endpoint{doing: "reading the account", scopes: []string{"accounts:read"}}
)

// Close releases idle connections.
func (d *destination) Close() error {
	d.client.Close()
	return nil
}

// Check reads the key's account (Get Accounts), the cheapest call that proves the key
// and names the account it belongs to.
func (d *destination) Check(ctx context.Context) error {
	resp, err := d.do(ctx, http.MethodGet, d.base+"/api/accounts", nil, epAccount)
	if err != nil {
		return err
	}
	var doc struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &doc); err != nil || len(doc.Data) == 0 {
		return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
			Message: "Klaviyo answered the account check with something other than an account: try again later.",
			Detail:  httpdest.Truncate(string(resp.Body), httpdest.MaxDetail), Exchange: resp.Exchange}
	}
	return nil
}

// Options lists the account's lists for export_list's list_id (Get Lists, followed page
// by page).
func (d *destination) Options(ctx context.Context, action, setting string) ([]connectors.Option, bool, error) {
	if action != ActionExportList || setting != "list_id" {
		return nil, false, nil
	}
	next := d.base + "/api/lists?" + url.Values{"page[size]": {strconv.Itoa(maxListsPage)}, "fields[list]": {"name"}}.Encode()
	var out []connectors.Option
	for page := 0; next != "" && page < maxOptionPages; page++ {
		resp, err := d.do(ctx, http.MethodGet, next, nil, epLists)
		if err != nil {
			return nil, true, err
		}
		var doc struct {
			Data []struct {
				ID         string `json:"id"`
				Attributes struct {
					Name string `json:"name"`
				} `json:"attributes"`
			} `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(resp.Body, &doc); err != nil {
			return nil, true, badAnswer(resp, "the lists")
		}
		for _, l := range doc.Data {
			label := l.Attributes.Name
			if label == "" {
				label = l.ID
			}
			out = append(out, connectors.Option{Value: l.ID, Label: label})
		}
		next = d.sameHost(doc.Links.Next)
	}
	return out, true, nil
}

// Write imports the batch's upserts with bulk import jobs (one job up to 10,000 profiles
// and 5 MB), waits for each to finish and reads the profiles it refused; for export_list
// the jobs add the profiles to the list, and removals are looked up by identifier and
// removed from the list. A setting missing, a removal sync_profiles cannot do, or an
// operation it does not know is refused before anything is sent.
func (d *destination) Write(ctx context.Context, b connectors.Batch) (*connectors.WriteResult, error) {
	listID := ""
	switch b.Action {
	case ActionSyncProfiles:
	case ActionExportList:
		listID = strings.TrimSpace(b.Settings["list_id"])
		if listID == "" {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "list_id",
				Message: "The activation has no Klaviyo list: choose one in its settings."}
		}
	default:
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: fmt.Sprintf("Klaviyo has no action %q; its actions are %s and %s.", b.Action, ActionSyncProfiles, ActionExportList)}
	}
	res := &connectors.WriteResult{}
	var upserts []prepared
	var removals []connectors.Record
	for _, r := range b.Records {
		switch r.Op {
		case connectors.OpUpsert:
			p, reject := prepare(r)
			if reject != "" {
				res.Rejected = append(res.Rejected, connectors.Rejection{Key: r.Key, Message: reject})
				continue
			}
			upserts = append(upserts, p)
		case connectors.OpRemove:
			if b.Action != ActionExportList {
				return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
					Message: fmt.Sprintf("Sync profiles only creates and updates Klaviyo profiles, yet the batch holds record %q to remove.", r.Key)}
			}
			removals = append(removals, r)
		default:
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
				Message: fmt.Sprintf("Record %q has the operation %q; Klaviyo takes upsert and remove only.", r.Key, r.Op)}
		}
	}
	for _, chunk := range jobs(upserts) {
		rejected, ex, err := d.importJob(ctx, chunk, listID)
		if err != nil {
			return nil, err
		}
		res.Rejected = append(res.Rejected, rejected...)
		res.Exchange = ex
	}
	if len(removals) > 0 {
		ex, err := d.removeFromList(ctx, removals, listID)
		if err != nil {
			return nil, err
		}
		if res.Exchange == nil {
			res.Exchange = ex
		}
	}
	return res, nil
}

// prepared is one upsert as a profile object of the import, with its identifiers.
type prepared struct {
	key                 string
	email, phone, extID string
	json                []byte
}

// attributes Klaviyo's profile object names; other fields are custom properties.
var attributeNames = map[string]bool{
	"email": true, "phone_number": true, "external_id": true, "first_name": true, "last_name": true,
	"organization": true, "title": true, "locale": true, "image": true,
}

// prepare writes a record as a profile object (ProfileUpsertQueryResourceObject), or
// says why Klaviyo could not take it.
func prepare(r connectors.Record) (prepared, string) {
	attrs := map[string]any{}
	props := map[string]any{}
	for name, v := range r.Fields {
		if v == nil {
			continue // the import never clears a field with null
		}
		if attributeNames[name] {
			s, ok := v.(string)
			if !ok {
				s = fmt.Sprint(v)
			}
			if s == "" {
				continue
			}
			attrs[name] = s
			continue
		}
		props[name] = v
	}
	if len(props) > 0 {
		attrs["properties"] = props
	}
	p := prepared{key: r.Key}
	p.email, _ = attrs["email"].(string)
	p.phone, _ = attrs["phone_number"].(string)
	p.extID, _ = attrs["external_id"].(string)
	if p.email == "" && p.phone == "" && p.extID == "" {
		return p, "The record has no e-mail, phone number or external ID, one of which Klaviyo needs to know the profile: map one of them."
	}
	body, err := marshal(map[string]any{"type": "profile", "attributes": attrs})
	if err != nil {
		return p, "The record holds a value that cannot be written as JSON: " + err.Error()
	}
	if len(body) > MaxProfileBytes {
		return p, fmt.Sprintf("The profile is %d bytes, more than the 100 KB Klaviyo takes for one profile: map fewer or shorter fields.", len(body))
	}
	p.json = body
	return p, ""
}

// The body of a job around its profiles: {"data":{"type":…,"attributes":{"profiles":{"data":[…]}},"relationships":…}}.
const jobOverhead = 512

// jobs packs profiles into jobs of at most MaxJobProfiles profiles and MaxJobBytes bytes.
func jobs(ps []prepared) [][]prepared {
	var out [][]prepared
	var cur []prepared
	size := jobOverhead
	for _, p := range ps {
		if len(cur) > 0 && (len(cur) == MaxJobProfiles || size+len(p.json)+1 > MaxJobBytes) {
			out = append(out, cur)
			cur, size = nil, jobOverhead
		}
		cur = append(cur, p)
		size += len(p.json) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func jobBody(ps []prepared, listID string) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":[`)
	for i, p := range ps {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(p.json)
	}
	buf.WriteString(`]}}`)
	if listID != "" {
		id, _ := marshal(listID)
		buf.WriteString(`,"relationships":{"lists":{"data":[{"type":"list","id":`)
		buf.Write(id)
		buf.WriteString(`}]}}`)
	}
	buf.WriteString(`}}`)
	return buf.Bytes()
}

// importJob sends one job, waits for it and reads what it refused.
func (d *destination) importJob(ctx context.Context, ps []prepared, listID string) ([]connectors.Rejection, *connectors.Exchange, error) {
	ep := epImport
	ep.listID = listID
	resp, err := d.do(ctx, http.MethodPost, d.base+"/api/profile-bulk-import-jobs", jobBody(ps, listID), ep)
	if err != nil {
		return nil, nil, err
	}
	ex := resp.Exchange
	var created jobDoc
	if err := json.Unmarshal(resp.Body, &created); err != nil || created.Data.ID == "" {
		return nil, ex, badAnswer(resp, "the import job it created")
	}
	job, err := d.waitJob(ctx, created.Data.ID)
	if err != nil {
		return nil, ex, err
	}
	if job.Attributes.FailedCount == 0 {
		return nil, ex, nil
	}
	rejected, err := d.importErrors(ctx, job.ID, ps)
	return rejected, ex, err
}

type jobDoc struct {
	Data jobResource `json:"data"`
}

type jobResource struct {
	ID         string `json:"id"`
	Attributes struct {
		Status      string `json:"status"`
		TotalCount  int    `json:"total_count"`
		FailedCount int    `json:"failed_count"`
	} `json:"attributes"`
}

// waitJob polls a job until it is complete, waiting longer each time, and out a 429.
func (d *destination) waitJob(ctx context.Context, id string) (jobResource, error) {
	deadline := time.Now().Add(d.jobTimeout)
	wait := d.pollInterval
	for {
		if err := sleep(ctx, wait); err != nil {
			return jobResource{}, d.cancelled(err)
		}
		wait = min(wait*2, maxPollInterval)
		if err := d.polls.Wait(ctx); err != nil {
			return jobResource{}, d.cancelled(err)
		}
		resp, err := d.do(ctx, http.MethodGet, d.base+"/api/profile-bulk-import-jobs/"+url.PathEscape(id), nil, epJob)
		if ce, ok := connectors.AsError(err); ok && ce.Category == connectors.CategoryRateLimit {
			d.polls.Backoff(ce.RetryAfter)
			wait = max(ce.RetryAfter, d.pollInterval)
			continue
		}
		if err != nil {
			return jobResource{}, err
		}
		var doc jobDoc
		if err := json.Unmarshal(resp.Body, &doc); err != nil {
			return jobResource{}, badAnswer(resp, "the import job's progress")
		}
		switch doc.Data.Attributes.Status {
		case "complete":
			return doc.Data, nil
		case "cancelled":
			return jobResource{}, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
				Message:  fmt.Sprintf("Klaviyo cancelled the import job %s before it finished: the batch will be sent again.", id),
				Detail:   httpdest.Truncate(string(resp.Body), httpdest.MaxDetail),
				Exchange: resp.Exchange}
		}
		if time.Now().After(deadline) {
			return jobResource{}, &connectors.Error{Category: connectors.CategoryTimeout, Retryable: true,
				Message: fmt.Sprintf("Klaviyo had not finished the import job %s after %s (status %q): the batch will be sent again.", id, d.jobTimeout, doc.Data.Attributes.Status),
				Detail:  httpdest.Truncate(string(resp.Body), httpdest.MaxDetail), Exchange: resp.Exchange}
		}
	}
}

func (d *destination) cancelled(err error) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryTimeout, Retryable: true,
		Message: "The wait for Klaviyo's import job was cut short: the batch will be sent again.", Detail: err.Error(), Err: err}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pointerIndex reads the profile's position from an import error's source pointer.
var pointerIndex = regexp.MustCompile(`^/data/attributes/profiles/data/(\d+)(/|$)`)

// importErrors reads a job's import errors and names the records they are about: by the
// identifiers of the original payload, or else by the profile's position in the job.
func (d *destination) importErrors(ctx context.Context, jobID string, ps []prepared) ([]connectors.Rejection, error) {
	byEmail, byPhone, byExt := map[string][]int{}, map[string][]int{}, map[string][]int{}
	for i, p := range ps {
		if p.email != "" {
			byEmail[strings.ToLower(p.email)] = append(byEmail[strings.ToLower(p.email)], i)
		}
		if p.phone != "" {
			byPhone[p.phone] = append(byPhone[p.phone], i)
		}
		if p.extID != "" {
			byExt[p.extID] = append(byExt[p.extID], i)
		}
	}
	seen := map[int]bool{}
	var out []connectors.Rejection
	next := d.base + "/api/profile-bulk-import-jobs/" + url.PathEscape(jobID) + "/import-errors?" + url.Values{"page[size]": {"100"}}.Encode()
	for pages := 0; next != "" && pages <= MaxJobProfiles/100; pages++ {
		if err := d.polls.Wait(ctx); err != nil {
			return nil, d.cancelled(err)
		}
		resp, err := d.do(ctx, http.MethodGet, next, nil, epErrors)
		if ce, ok := connectors.AsError(err); ok && ce.Category == connectors.CategoryRateLimit {
			d.polls.Backoff(ce.RetryAfter)
			pages--
			if err := sleep(ctx, max(ce.RetryAfter, time.Second)); err != nil {
				return nil, d.cancelled(err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var doc struct {
			Data []struct {
				Attributes struct {
					Code   string `json:"code"`
					Title  string `json:"title"`
					Detail string `json:"detail"`
					Source struct {
						Pointer string `json:"pointer"`
					} `json:"source"`
					OriginalPayload json.RawMessage `json:"original_payload"`
				} `json:"attributes"`
			} `json:"data"`
			Links struct {
				Next string `json:"next"`
			} `json:"links"`
		}
		if err := json.Unmarshal(resp.Body, &doc); err != nil {
			return nil, badAnswer(resp, "the import job's errors")
		}
		for _, e := range doc.Data {
			a := e.Attributes
			var idx []int
			if email, phone, ext := payloadIDs(a.OriginalPayload); email != "" || phone != "" || ext != "" {
				switch {
				case email != "" && byEmail[strings.ToLower(email)] != nil:
					idx = byEmail[strings.ToLower(email)]
				case phone != "" && byPhone[phone] != nil:
					idx = byPhone[phone]
				case ext != "" && byExt[ext] != nil:
					idx = byExt[ext]
				}
			}
			if idx == nil {
				if m := pointerIndex.FindStringSubmatch(a.Source.Pointer); m != nil {
					if i, err := strconv.Atoi(m[1]); err == nil && i < len(ps) {
						idx = []int{i}
					}
				}
			}
			msg := importMessage(a.Title, a.Detail)
			for _, i := range idx {
				if !seen[i] {
					seen[i] = true
					out = append(out, connectors.Rejection{Key: ps[i].key, Message: msg})
				}
			}
		}
		next = d.sameHost(doc.Links.Next)
	}
	return out, nil
}

// payloadIDs reads the identifiers of an import error's original payload: the profile
// object as sent, or its attributes alone.
func payloadIDs(raw json.RawMessage) (email, phone, ext string) {
	var p struct {
		Attributes *struct {
			Email      string `json:"email"`
			Phone      string `json:"phone_number"`
			ExternalID string `json:"external_id"`
		} `json:"attributes"`
		Email      string `json:"email"`
		Phone      string `json:"phone_number"`
		ExternalID string `json:"external_id"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &p) != nil {
		return "", "", ""
	}
	if p.Attributes != nil {
		return p.Attributes.Email, p.Attributes.Phone, p.Attributes.ExternalID
	}
	return p.Email, p.Phone, p.ExternalID
}

// importMessage is an import error in a sentence: Klaviyo's detail, which says what was
// wrong, and its title when there is no detail.
func importMessage(title, detail string) string {
	text := strings.TrimSpace(detail)
	if text == "" {
		text = strings.TrimSpace(title)
	}
	if text == "" {
		return "Klaviyo did not import this profile and did not say why."
	}
	if !strings.HasSuffix(text, ".") {
		text += "."
	}
	return "Klaviyo did not import this profile: " + text
}

// removeFromList finds the profiles of the removals by e-mail, phone number or external
// id (Get Profiles, 100 at a time) and removes them from the list (1,000 at a time).
// A record Klaviyo has no profile for is not in the list: nothing to do.
func (d *destination) removeFromList(ctx context.Context, rs []connectors.Record, listID string) (*connectors.Exchange, error) {
	groups := map[string][]string{}
	for _, r := range rs {
		for _, f := range []string{"email", "phone_number", "external_id"} {
			if v, ok := r.Fields[f].(string); ok && strings.TrimSpace(v) != "" {
				groups[f] = append(groups[f], v)
				break
			}
		}
	}
	idSet := map[string]bool{}
	var ids []string
	for _, f := range []string{"email", "phone_number", "external_id"} {
		values := groups[f]
		for start := 0; start < len(values); start += maxLookup {
			chunk := values[start:min(start+maxLookup, len(values))]
			quoted, _ := marshal(chunk)
			next := d.base + "/api/profiles?" + url.Values{
				"filter":          {"any(" + f + "," + string(quoted) + ")"},
				"page[size]":      {strconv.Itoa(maxLookup)},
				"fields[profile]": {"email,phone_number,external_id"},
			}.Encode()
			for pages := 0; next != "" && pages < 10; pages++ {
				if err := d.lookups.Wait(ctx); err != nil {
					return nil, d.cancelled(err)
				}
				resp, err := d.do(ctx, http.MethodGet, next, nil, epLookup)
				if err != nil {
					return nil, err
				}
				var doc struct {
					Data []struct {
						ID string `json:"id"`
					} `json:"data"`
					Links struct {
						Next string `json:"next"`
					} `json:"links"`
				}
				if err := json.Unmarshal(resp.Body, &doc); err != nil {
					return nil, badAnswer(resp, "the profiles it was asked for")
				}
				for _, p := range doc.Data {
					if !idSet[p.ID] {
						idSet[p.ID] = true
						ids = append(ids, p.ID)
					}
				}
				next = d.sameHost(doc.Links.Next)
			}
		}
	}
	var ex *connectors.Exchange
	ep := epRemove
	ep.listID = listID
	for start := 0; start < len(ids); start += maxRemovalIDs {
		chunk := ids[start:min(start+maxRemovalIDs, len(ids))]
		data := make([]map[string]string, len(chunk))
		for i, id := range chunk {
			data[i] = map[string]string{"type": "profile", "id": id}
		}
		body, _ := marshal(map[string]any{"data": data})
		if err := d.removes.Wait(ctx); err != nil {
			return nil, d.cancelled(err)
		}
		resp, err := d.do(ctx, http.MethodDelete, d.base+"/api/lists/"+url.PathEscape(listID)+"/relationships/profiles", body, ep)
		if err != nil {
			return nil, err
		}
		ex = resp.Exchange
	}
	return ex, nil
}

// sameHost keeps a pagination link only when it points at the API Sluice is talking to:
// a link elsewhere would carry the key to another host.
func (d *destination) sameHost(link string) string {
	if link == "" || !strings.HasPrefix(link, d.base+"/") {
		return ""
	}
	return link
}

// do sends one request with Klaviyo's headers and words any answer but a 2xx.
func (d *destination) do(ctx context.Context, method, u string, body []byte, ep endpoint) (*httpdest.Response, error) {
	h := http.Header{}
	h.Set("Authorization", "Klaviyo-API-Key "+d.key)
	h.Set("revision", Revision)
	h.Set("Accept", JSONAPI)
	h.Set("User-Agent", "Sluice")
	if body != nil {
		h.Set("Content-Type", JSONAPI)
	}
	resp, err := d.client.Do(ctx, httpdest.Request{Method: method, URL: u, Header: h, Body: body, SecretHeaders: []string{"Authorization"}})
	if err != nil {
		return nil, err
	}
	if ce := d.statusError(resp, ep); ce != nil {
		return nil, ce
	}
	return resp, nil
}

// statusError words a failed answer for the user, by what Klaviyo's status means here.
func (d *destination) statusError(resp *httpdest.Response, ep endpoint) *connectors.Error {
	ce := d.client.StatusError(resp)
	if ce == nil {
		return nil
	}
	said := klaviyoSays(resp.Body)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		ce.Field = "api_key"
		ce.Message = "Klaviyo refused the private API key: it is wrong, or was revoked or deleted. Enter a current private key in the platform's settings."
	case code == http.StatusForbidden:
		ce.Field = "api_key"
		ce.Message = fmt.Sprintf("Klaviyo's private API key lacks a scope for %s, which takes %s: give the key these scopes in Klaviyo (Settings › API keys), or enter a key that has them.",
			ep.doing, strings.Join(ep.scopes, " and "))
	case (code == http.StatusNotFound || code == http.StatusGone) && ep.listID != "":
		ce.Field = "list_id"
		ce.Message = fmt.Sprintf("The Klaviyo list with id “%s” does not exist any more: choose another list in the activation's settings.", ep.listID)
	case code == http.StatusNotFound || code == http.StatusGone:
		ce.Message = fmt.Sprintf("Klaviyo answered %s while %s: the account or what Sluice asked for is not there.", statusText(code), ep.doing)
	case code == http.StatusTooManyRequests:
		if ce.RetryAfter <= 0 {
			ce.RetryAfter = resetAfter(resp.Header)
		}
		ce.Message = fmt.Sprintf("Klaviyo limits how fast Sluice may send and asked it to wait %s before %s again.", ce.RetryAfter, ep.doing)
	case code >= 500:
		ce.Message = fmt.Sprintf("Klaviyo failed on its side (%s) while %s.", statusText(code), ep.doing)
	case code == http.StatusRequestEntityTooLarge:
		ce.Message = "Klaviyo refused the import as too large (over 5 MB): map fewer or shorter fields."
	case code >= 400:
		msg := fmt.Sprintf("Klaviyo refused %s (%s)", ep.doing, statusText(code))
		if said != "" {
			msg += ": " + said
		}
		ce.Message = strings.TrimSuffix(msg, ".") + "."
	}
	return ce
}

func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// resetAfter reads RateLimit-Reset (seconds to the window's end) when a 429 has no
// Retry-After; one second when neither says.
func resetAfter(h http.Header) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("RateLimit-Reset"))); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return time.Second
}

// klaviyoSays is the detail (or title) of the first error of a JSON:API errors body.
func klaviyoSays(body []byte) string {
	var doc struct {
		Errors []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Errors) == 0 {
		return ""
	}
	if s := strings.TrimSpace(doc.Errors[0].Detail); s != "" {
		return httpdest.Truncate(s, 300)
	}
	return httpdest.Truncate(strings.TrimSpace(doc.Errors[0].Title), 300)
}

func badAnswer(resp *httpdest.Response, what string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
		Message:  "Klaviyo's answer with " + what + " could not be read: try again later.",
		Detail:   httpdest.Truncate(string(resp.Body), httpdest.MaxDetail),
		Exchange: resp.Exchange}
}

// marshal writes JSON without HTML escaping, so values read as they were ("<", "&").
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// RequestTimeout is how long one request may take (connectors.RequestTimeouter).
func (d *destination) RequestTimeout() time.Duration { return d.client.Timeout() }
