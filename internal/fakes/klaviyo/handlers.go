package klaviyo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	reEmail = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	reE164  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	reAny   = regexp.MustCompile(`^any\((email|phone_number|external_id|id),\[(.*)\]\)$`)
	reEq    = regexp.MustCompile(`^equals\((email|phone_number|external_id|id),(".*"|'.*')\)$`)
)

// jobRequest is the body of Bulk Import Profiles (ProfileImportJobCreateQuery).
type jobRequest struct {
	Data *struct {
		Type       string `json:"type"`
		Attributes *struct {
			Profiles *struct {
				Data []json.RawMessage `json:"data"`
			} `json:"profiles"`
		} `json:"attributes"`
		Relationships *struct {
			Lists *struct {
				Data []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"data"`
			} `json:"lists"`
		} `json:"relationships"`
	} `json:"data"`
}

// profileObject is one ProfileUpsertQueryResourceObject.
type profileObject struct {
	Type       string         `json:"type"`
	ID         *string        `json:"id"`
	Attributes map[string]any `json:"attributes"`
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request, body []byte, _ []string) (int, int) {
	if len(body) > MaxJobBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "Payload too large.",
			fmt.Sprintf("The maximum allowed payload size is 5MB; this one is %d bytes.", len(body)), "/data")
		return http.StatusRequestEntityTooLarge, 0
	}
	var req jobRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Malformed JSON: "+err.Error(), "/data")
		return http.StatusBadRequest, 0
	}
	if req.Data == nil || req.Data.Type != "profile-bulk-import-job" {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Expected data.type to be 'profile-bulk-import-job'.", "/data/type")
		return http.StatusBadRequest, 0
	}
	if req.Data.Attributes == nil || req.Data.Attributes.Profiles == nil || req.Data.Attributes.Profiles.Data == nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "'profiles' is a required field.", "/data/attributes/profiles")
		return http.StatusBadRequest, 0
	}
	profiles := req.Data.Attributes.Profiles.Data
	n := len(profiles)
	if n == 0 || n > MaxJobProfiles {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.",
			fmt.Sprintf("A job takes between 1 and 10000 profiles; this one has %d.", n), "/data/attributes/profiles/data")
		return http.StatusBadRequest, n
	}
	for i, raw := range profiles {
		var p profileObject
		if err := json.Unmarshal(raw, &p); err != nil || p.Type != "profile" || p.Attributes == nil {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Each profile needs type 'profile' and attributes.",
				fmt.Sprintf("/data/attributes/profiles/data/%d", i))
			return http.StatusBadRequest, n
		}
	}
	var listIDs []string
	if rel := req.Data.Relationships; rel != nil && rel.Lists != nil {
		for _, l := range rel.Lists.Data {
			if l.Type != "list" {
				writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Expected type 'list'.", "/data/relationships/lists/data")
				return http.StatusBadRequest, n
			}
			if s.lists[l.ID] == nil {
				writeError(w, http.StatusNotFound, "not_found", "Not found.", fmt.Sprintf("A list with id %s does not exist.", l.ID), "/data/relationships/lists/data/0/id")
				return http.StatusNotFound, n
			}
			listIDs = append(listIDs, l.ID)
		}
	}
	j := &job{id: randomID(26), created: s.now().UTC(), profiles: profiles, listIDs: listIDs, status: "queued"}
	s.jobs[j.id] = j
	if s.pollsToDone < 0 {
		s.finish(j)
	}
	j.polls = s.pollsToDone
	writeJSON(w, http.StatusAccepted, map[string]any{"data": s.jobResource(r, j), "links": map[string]any{"self": baseURL(r) + "/api/profile-bulk-import-jobs/" + j.id}})
	return http.StatusAccepted, n
}

func (s *Server) jobResource(r *http.Request, j *job) map[string]any {
	attrs := map[string]any{
		"status":          j.status,
		"created_at":      j.created.Format(time.RFC3339Nano),
		"total_count":     len(j.profiles),
		"completed_count": 0,
		"failed_count":    0,
		"completed_at":    nil,
		"expires_at":      j.created.Add(7 * 24 * time.Hour).Format(time.RFC3339Nano),
		"started_at":      nil,
	}
	if j.status == "complete" {
		attrs["completed_count"] = len(j.imported)
		attrs["failed_count"] = len(j.failed)
		attrs["completed_at"] = j.created.Format(time.RFC3339Nano)
		attrs["started_at"] = j.created.Format(time.RFC3339Nano)
	}
	lists := make([]map[string]string, 0, len(j.listIDs))
	for _, id := range j.listIDs {
		lists = append(lists, map[string]string{"type": "list", "id": id})
	}
	self := baseURL(r) + "/api/profile-bulk-import-jobs/" + j.id
	return map[string]any{
		"type": "profile-bulk-import-job", "id": j.id, "attributes": attrs,
		"relationships": map[string]any{
			"lists": map[string]any{"data": lists, "links": map[string]string{"self": self + "/relationships/lists", "related": self + "/lists"}},
		},
		"links": map[string]string{"self": self},
	}
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, _ []byte, args []string) (int, int) {
	j := s.jobs[args[0]]
	if j == nil {
		writeError(w, http.StatusNotFound, "not_found", "Not found.", "A job with id "+args[0]+" does not exist.", "")
		return http.StatusNotFound, 0
	}
	if j.status != "complete" {
		if j.polls > 0 {
			j.polls--
			j.status = "processing"
		} else {
			s.finish(j)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": s.jobResource(r, j), "links": map[string]string{"self": baseURL(r) + r.URL.Path}})
	return http.StatusOK, 0
}

// finish imports a job's valid profiles and records an import error for each other one.
func (s *Server) finish(j *job) {
	if j.status == "complete" {
		return
	}
	j.status = "complete"
	for i, raw := range j.profiles {
		var p profileObject
		_ = json.Unmarshal(raw, &p)
		pointer := fmt.Sprintf("/data/attributes/profiles/data/%d", i)
		if detail, at := validate(raw, p); detail != "" {
			j.failed = append(j.failed, importError{ID: uuid(), Code: "invalid", Title: "Invalid input", Detail: detail, Pointer: pointer + at, Payload: raw})
			continue
		}
		id := s.upsert(p.Attributes)
		j.imported = append(j.imported, id)
		for _, l := range j.listIDs {
			if li := s.lists[l]; li != nil {
				li.members[id] = true
			}
		}
	}
}

// validate is what the import refuses of one profile, and where ("" when it is fine).
func validate(raw json.RawMessage, p profileObject) (detail, at string) {
	if len(raw) > MaxProfileBytes {
		return "The maximum allowed payload size per-profile is 100KB.", ""
	}
	email, _ := p.Attributes["email"].(string)
	phone, _ := p.Attributes["phone_number"].(string)
	ext, _ := p.Attributes["external_id"].(string)
	if email == "" && phone == "" && ext == "" {
		return "A profile requires at least one of the following identifiers: email, phone_number, or external_id.", "/attributes"
	}
	if email != "" && !reEmail.MatchString(email) {
		return fmt.Sprintf("Invalid email address: %s", email), "/attributes/email"
	}
	if phone != "" && !reE164.MatchString(phone) {
		return fmt.Sprintf("Invalid phone number format (Example of a valid format: +12345678901): %s", phone), "/attributes/phone_number"
	}
	return "", ""
}

// upsert stores a profile's attributes, matching an existing profile by e-mail, phone
// number or external id, and returns its id.
func (s *Server) upsert(attrs map[string]any) string {
	email, _ := attrs["email"].(string)
	phone, _ := attrs["phone_number"].(string)
	ext, _ := attrs["external_id"].(string)
	p := s.find(email, phone, ext)
	if p == nil {
		p = &Profile{ID: randomID(26)}
		s.profiles[p.ID] = p
		s.profileOrder = append(s.profileOrder, p.ID)
	}
	defer s.index(p)
	if p.Attributes == nil {
		p.Attributes = map[string]any{}
	}
	for k, v := range attrs {
		if v == nil { // the import does not clear fields with null
			continue
		}
		switch k {
		case "email":
			p.Email = email
		case "phone_number":
			p.Phone = phone
		case "external_id":
			p.ExternalID = ext
		case "first_name":
			p.FirstName, _ = v.(string)
		case "last_name":
			p.LastName, _ = v.(string)
		case "properties":
			props, _ := v.(map[string]any)
			if p.Properties == nil {
				p.Properties = map[string]any{}
			}
			for pk, pv := range props {
				p.Properties[pk] = pv
			}
			continue
		}
		p.Attributes[k] = v
	}
	return p.ID
}

func (s *Server) getJobErrors(w http.ResponseWriter, r *http.Request, _ []byte, args []string) (int, int) {
	j := s.jobs[args[0]]
	if j == nil {
		writeError(w, http.StatusNotFound, "not_found", "Not found.", "A job with id "+args[0]+" does not exist.", "")
		return http.StatusNotFound, 0
	}
	size, offset, ok := pageParams(w, r.URL.Query(), 20, MaxErrorsPageSize)
	if !ok {
		return http.StatusBadRequest, 0
	}
	data := []map[string]any{}
	if j.status == "complete" {
		for i := offset; i < len(j.failed) && i < offset+size; i++ {
			e := j.failed[i]
			data = append(data, map[string]any{
				"type": "import-error", "id": e.ID,
				"attributes": map[string]any{
					"code": e.Code, "title": e.Title, "detail": e.Detail,
					"source":           map[string]any{"pointer": e.Pointer},
					"original_payload": e.Payload,
				},
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links(r, size, offset, len(j.failed))})
	return http.StatusOK, 0
}

func (s *Server) getLists(w http.ResponseWriter, r *http.Request, _ []byte, _ []string) (int, int) {
	size, offset, ok := pageParams(w, r.URL.Query(), 10, MaxListsPageSize)
	if !ok {
		return http.StatusBadRequest, 0
	}
	var ids []string
	for _, id := range s.listOrder {
		if s.lists[id] != nil {
			ids = append(ids, id)
		}
	}
	data := []map[string]any{}
	for i := offset; i < len(ids) && i < offset+size; i++ {
		l := s.lists[ids[i]]
		data = append(data, map[string]any{
			"type": "list", "id": l.id,
			"attributes": map[string]any{"name": l.name, "created": "2024-01-01T00:00:00+00:00", "updated": "2024-01-01T00:00:00+00:00", "opt_in_process": "single_opt_in"},
			"links":      map[string]string{"self": baseURL(r) + "/api/lists/" + l.id},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links(r, size, offset, len(ids))})
	return http.StatusOK, 0
}

// getProfiles answers Get Profiles with the filters the connector uses: any or equals on
// email, phone_number, external_id or id.
func (s *Server) getProfiles(w http.ResponseWriter, r *http.Request, _ []byte, _ []string) (int, int) {
	q := r.URL.Query()
	size, offset, ok := pageParams(w, q, 20, MaxProfilesPage)
	if !ok {
		return http.StatusBadRequest, 0
	}
	field, values := "", []string(nil)
	if f := q.Get("filter"); f != "" {
		var err error
		if m := reAny.FindStringSubmatch(f); m != nil {
			field = m[1]
			err = json.Unmarshal([]byte("["+m[2]+"]"), &values)
		} else if m := reEq.FindStringSubmatch(f); m != nil {
			field = m[1]
			var v string
			err = json.Unmarshal([]byte(`"`+strings.Trim(m[2], `"'`)+`"`), &v)
			values = []string{v}
		} else {
			err = fmt.Errorf("unsupported filter")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Invalid filter provided: "+f, "")
			return http.StatusBadRequest, 0
		}
		if len(values) > 100 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "The 'any' operator takes at most 100 values.", "")
			return http.StatusBadRequest, 0
		}
	}
	want := map[string]bool{}
	for _, v := range values {
		want[strings.ToLower(v)] = true
	}
	var matched []*Profile
	for _, id := range s.profileOrder {
		p := s.profiles[id]
		var v string
		switch field {
		case "":
			matched = append(matched, p)
			continue
		case "email":
			v = p.Email
		case "phone_number":
			v = p.Phone
		case "external_id":
			v = p.ExternalID
		case "id":
			v = p.ID
		}
		if v != "" && want[strings.ToLower(v)] {
			matched = append(matched, p)
		}
	}
	data := []map[string]any{}
	for i := offset; i < len(matched) && i < offset+size; i++ {
		p := matched[i]
		data = append(data, map[string]any{
			"type": "profile", "id": p.ID,
			"attributes": map[string]any{"email": nilIfEmpty(p.Email), "phone_number": nilIfEmpty(p.Phone), "external_id": nilIfEmpty(p.ExternalID),
				"first_name": nilIfEmpty(p.FirstName), "last_name": nilIfEmpty(p.LastName), "properties": p.Properties},
			"links": map[string]string{"self": baseURL(r) + "/api/profiles/" + p.ID},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links(r, size, offset, len(matched))})
	return http.StatusOK, 0
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// removeFromList answers Remove Profiles from List: 204, at most 1,000 profiles a call.
func (s *Server) removeFromList(w http.ResponseWriter, _ *http.Request, body []byte, args []string) (int, int) {
	var req struct {
		Data []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Data == nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Expected a data array of profile identifiers.", "/data")
		return http.StatusBadRequest, 0
	}
	n := len(req.Data)
	if n == 0 || n > MaxListRemoval {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "This endpoint accepts between 1 and 1000 profiles per call; this one has "+strconv.Itoa(n)+".", "/data")
		return http.StatusBadRequest, n
	}
	li := s.lists[args[0]]
	if li == nil {
		writeError(w, http.StatusNotFound, "not_found", "Not found.", fmt.Sprintf("A list with id %s does not exist.", args[0]), "")
		return http.StatusNotFound, n
	}
	for i, d := range req.Data {
		if d.Type != "profile" || d.ID == "" {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid input.", "Expected type 'profile' with an id.", fmt.Sprintf("/data/%d", i))
			return http.StatusBadRequest, n
		}
	}
	for _, d := range req.Data {
		delete(li.members, d.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent, n
}

// AccountID is the id of the fake's one account.
const AccountID = "XyZ123"

func (s *Server) getAccounts(w http.ResponseWriter, r *http.Request, _ []byte, _ []string) (int, int) {
	writeJSON(w, http.StatusOK, map[string]any{
		"data": []map[string]any{{
			"type": "account", "id": AccountID,
			"attributes": map[string]any{
				"contact_information": map[string]any{"default_sender_name": "Sluice Test", "default_sender_email": "test@example.com", "organization_name": "Sluice Test Shop"},
				"industry":            "Software", "timezone": "UTC", "preferred_currency": "USD", "public_api_key": "AbC123", "locale": "en-US",
			},
			"links": map[string]string{"self": baseURL(r) + "/api/accounts/" + AccountID},
		}},
		"links": map[string]any{"self": baseURL(r) + "/api/accounts", "next": nil, "prev": nil},
	})
	return http.StatusOK, 0
}

// find is the profile with one of these identifiers, e-mail first (Klaviyo matches
// e-mails without regard to case).
func (s *Server) find(email, phone, ext string) *Profile {
	if p := s.byEmail[strings.ToLower(email)]; email != "" && p != nil {
		return p
	}
	if p := s.byPhone[phone]; phone != "" && p != nil {
		return p
	}
	if p := s.byExt[ext]; ext != "" && p != nil {
		return p
	}
	return nil
}

// index makes a profile findable by its identifiers.
func (s *Server) index(p *Profile) {
	if p.Email != "" {
		s.byEmail[strings.ToLower(p.Email)] = p
	}
	if p.Phone != "" {
		s.byPhone[p.Phone] = p
	}
	if p.ExternalID != "" {
		s.byExt[p.ExternalID] = p
	}
}
