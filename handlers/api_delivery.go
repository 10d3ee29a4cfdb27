package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/delivery"
	"sluice/models"
)

// This file is the JSON API of the delivery side: platforms, activations and runs
// (API.md, "Resources"). Choices where API.md is silent:
//
//   - A platform is {id, name, kind, status, status_message, config, checked_at,
//     created_at, updated_at}. status_message says why the last check failed ("" when it
//     passed). config shows the public settings as strings (like a source's) and every
//     secret setting that is set, from config or credentials alike, as "********"
//     (apiSecretMask): a secret is never shown back, and there is no separate
//     "credentials" object in answers. A URL shows its user info and query values as
//     *** (connectors.MaskURL); sent back as shown, it keeps the stored one.
//   - On input, config and credentials both name the connector's settings; credentials
//     may hold only secret ones (a public setting there is 422 "credentials.<name>"),
//     config may hold any (API.md puts the webhook's secret headers in config). A text
//     setting of "Name: value" lines (the webhook's headers) may also be given as a JSON
//     object {"Name": "value"}. A masked secret sent back keeps the stored one, like
//     leaving it out.
//   - PATCH /platforms/{id} tests the platform again whatever changed, so the answer's
//     status is current; a check that cannot reach the platform keeps the status and
//     says why in status_message.
//   - An activation is {id, name, status, health, pause, last_run, segment_id,
//     platform_id, action, mappings, schedule, settings, created_at, updated_at}. pause is
//     {automatic, cause, reason, since} or null; cause is "" for a manual pause, else
//     platform, source, schema or source_issues. last_run is the run that set the health
//     (the last one to finish; cancelled runs do not count), or null. settings always
//     carries its three keys.
//   - PATCH /activations/{id}: each field given replaces the stored one (mappings and
//     schedule whole), the others are kept; settings merge key by key. The result is
//     checked again as a whole against the segment's model and the platform.
//   - POST /activations/{id}/pause takes an optional {"reason": "…"}; without one the
//     reason says who paused it. A manual pause replaces an automatic one (so it is no
//     longer lifted automatically). Pausing a paused or resuming an active activation
//     changes nothing and answers 200.
//   - POST /activations/{id}/runs answers 409 while the activation is paused (resume it
//     first) or already has a run queued or running (one queued run picks up every
//     change anyway; cancel it to start another). The check comes before queuing, so
//     two requests at the same instant may both queue; the workers still run one run
//     of an activation at a time. The trigger is "api".
//   - A run is API.md's, plus full_resync, stage (null until it starts), processed,
//     cancel_requested (a cancelled running run stops at its next heartbeat) and
//     created_at (when it was queued). scheduled_for is null unless the trigger is
//     "schedule". error adds category_label (the seed's words for the category) and is
//     null unless the run failed or was skipped; fix.url is absolute, under base_url.
//   - Lists of runs are newest first, logs oldest first, issues in the order they were
//     found; their cursors are opaque. POST /runs/{id}/cancel on a run that is over is 409.
//   - GET /runs/{id}/samples lists the requests and answers kept for the debugger
//     (connectors.Exchange, secrets redacted by the connector).

// ---- platforms ----

// PlatformAPI serves /api/v1/platforms.
type PlatformAPI struct{ *Server }

// apiPlatformJSON is API.md's platform.
type apiPlatformJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Kind          string            `json:"kind"`
	Status        string            `json:"status"`
	StatusMessage string            `json:"status_message"`
	Config        map[string]string `json:"config"`
	CheckedAt     *time.Time        `json:"checked_at"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// apiPlatformInput is the body of POST and PATCH /platforms.
type apiPlatformInput struct {
	Name        *string                    `json:"name"`
	Kind        *string                    `json:"kind"`
	Config      map[string]json.RawMessage `json:"config"`
	Credentials map[string]json.RawMessage `json:"credentials"`
}

// toJSON shows a platform: public settings as they are, secrets that are set masked.
func (h *PlatformAPI) toJSON(p *models.Platform) (apiPlatformJSON, error) {
	cfg := p.PublicConfig()
	full, err := h.store.PlatformConfig(p)
	if err != nil {
		return apiPlatformJSON{}, fmt.Errorf("platform config: %w", err)
	}
	for k, v := range full {
		if _, public := cfg[k]; !public && v != "" {
			cfg[k] = apiSecretMask
		}
	}
	return apiPlatformJSON{
		ID: p.ID, Name: p.Name, Kind: p.Kind, Status: p.Status, StatusMessage: p.StatusMessage, Config: cfg,
		CheckedAt: apiTimeOrNull(p.CheckedAt), CreatedAt: apiTime(p.CreatedAt), UpdatedAt: apiTime(p.UpdatedAt),
	}, nil
}

func (h *PlatformAPI) answer(c echo.Context, status int, p *models.Platform) error {
	body, err := h.toJSON(p)
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// settings reads config and credentials into the connector's settings (nil when the
// body gives neither). credKeys are the settings given as credentials, so that errors
// about them can name the right field.
func (in apiPlatformInput) settings(spec connectors.DestinationSpec) (cfg connectors.Config, credKeys []string, err error) {
	if in.Config == nil && in.Credentials == nil {
		return nil, nil, nil
	}
	label := spec.Label + " platform"
	var secret []connectors.FieldSpec
	for _, f := range spec.Config {
		if f.Secret {
			secret = append(secret, f)
		}
	}
	for k := range in.Credentials {
		if i := slices.IndexFunc(spec.Config, func(f connectors.FieldSpec) bool { return f.Name == k }); i >= 0 && !spec.Config[i].Secret {
			return nil, nil, &models.FieldError{Field: "credentials." + k, Message: fmt.Sprintf("%s is a setting, not a credential: send it in config.", spec.Config[i].Label)}
		}
	}
	raw, err := apiTextLines(in.Config, spec.Config, "config.")
	if err != nil {
		return nil, nil, err
	}
	if cfg, err = apiConfig(raw, label, spec.Config); err != nil {
		return nil, nil, err
	}
	if raw, err = apiTextLines(in.Credentials, secret, "credentials."); err != nil {
		return nil, nil, err
	}
	creds, err := apiConfig(raw, label, secret)
	if err != nil {
		return nil, nil, apiRenameField(err, "config.", "credentials.")
	}
	for k := range in.Credentials {
		if _, twice := in.Config[k]; twice {
			return nil, nil, &models.FieldError{Field: "credentials." + k, Message: fmt.Sprintf("%s is given in both config and credentials: give it once.", k)}
		}
		credKeys = append(credKeys, k)
	}
	for k, v := range creds {
		cfg[k] = v
	}
	return cfg, credKeys, nil
}

// apiTextLines lets a text setting of "Name: value" lines (the webhook's headers, which
// API.md writes as a map) be given as a JSON object of strings.
func apiTextLines(raw map[string]json.RawMessage, fields []connectors.FieldSpec, prefix string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		out[k] = v
		i := slices.IndexFunc(fields, func(f connectors.FieldSpec) bool { return f.Name == k })
		if i < 0 || fields[i].Type != connectors.FieldText || !bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, &models.FieldError{Field: prefix + k, Message: fmt.Sprintf(`%s must be an object of strings, {"Name": "value"}, or "Name: value" lines.`, fields[i].Label)}
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		lines := make([]string, len(names))
		for j, name := range names {
			if strings.ContainsAny(name+m[name], "\r\n") {
				return nil, &models.FieldError{Field: prefix + k, Message: fmt.Sprintf("%s: header %q spans several lines; a name and its value are one line each.", fields[i].Label, name)}
			}
			lines[j] = name + ": " + m[name]
		}
		text, err := json.Marshal(strings.Join(lines, "\n"))
		if err != nil {
			return nil, err
		}
		out[k] = text
	}
	return out, nil
}

// apiRenameField moves a field error from one prefix to another.
func apiRenameField(err error, from, to string) error {
	var fe *models.FieldError
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, from) {
		return &models.FieldError{Field: to + strings.TrimPrefix(fe.Field, from), Message: fe.Message}
	}
	return err
}

// apiCredentialError points a refused setting that was given as a credential at
// "credentials.<name>" (the service names every setting "config.<name>").
func apiCredentialError(err error, credKeys []string) error {
	var fe *models.FieldError
	if errors.As(err, &fe) && slices.Contains(credKeys, strings.TrimPrefix(fe.Field, "config.")) {
		return apiRenameField(err, "config.", "credentials.")
	}
	return err
}

// Index lists the workspace's platforms.
func (h *PlatformAPI) Index(c echo.Context) error {
	list, err := h.store.ListPlatforms(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list platforms: %w", err)
	}
	page, next, err := apiPage(c, list, func(p models.Platform) (string, string) { return p.ID, p.Name })
	if err != nil {
		return err
	}
	items, err := apiMapList(page, h.toJSON)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiPlatformJSON]{Items: items, NextCursor: next})
}

// Show answers one platform.
func (h *PlatformAPI) Show(c echo.Context) error {
	p, err := h.store.PlatformByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show platform: %w", err)
	}
	return h.answer(c, http.StatusOK, p)
}

// Create saves a platform and checks it at once: the answer's status says whether its
// credentials work.
func (h *PlatformAPI) Create(c echo.Context) error {
	var in apiPlatformInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	if in.Kind == nil || strings.TrimSpace(*in.Kind) == "" {
		kinds := []string{}
		for _, sp := range h.dl.Registry().DestinationSpecs() {
			kinds = append(kinds, sp.Kind)
		}
		return &models.FieldError{Field: "kind", Message: "Choose the kind of platform: " + strings.Join(kinds, ", ") + "."}
	}
	spec, err := h.dl.DestinationSpec(strings.TrimSpace(*in.Kind))
	if err != nil {
		return err
	}
	cfg, credKeys, err := in.settings(spec)
	if err != nil {
		return err
	}
	if cfg == nil {
		cfg = connectors.Config{}
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	p, err := h.dl.CreatePlatform(c.Request().Context(), actor(c), spec.Kind, models.PlatformInput{Name: name, Config: cfg})
	if err != nil {
		return fmt.Errorf("create platform: %w", apiCredentialError(err, credKeys))
	}
	return h.answer(c, http.StatusCreated, p)
}

// Update changes a platform's name, settings or credentials and checks it again; a
// broken platform that now passes is connected, and the activations its breakage
// paused resume.
func (h *PlatformAPI) Update(c echo.Context) error {
	var in apiPlatformInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := h.store.PlatformByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("update platform: %w", err)
	}
	if in.Kind != nil && *in.Kind != p.Kind {
		return &models.FieldError{Field: "kind", Message: "A platform's kind cannot change. Create a new platform instead."}
	}
	patch := models.PlatformInput{}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return &models.FieldError{Field: "name", Message: "Give it a name."}
		}
		patch.Name = *in.Name
	}
	var credKeys []string
	if in.Config != nil || in.Credentials != nil {
		spec, err := h.dl.DestinationSpec(p.Kind)
		if err != nil {
			return err
		}
		if patch.Config, credKeys, err = in.settings(spec); err != nil {
			return err
		}
	}
	if p, err = h.dl.UpdatePlatform(ctx, actor(c), p.ID, patch); err != nil {
		return fmt.Errorf("update platform: %w", apiCredentialError(err, credKeys))
	}
	return h.answer(c, http.StatusOK, p)
}

// Delete removes a platform no activation sends to; otherwise 409 lists the activations.
func (h *PlatformAPI) Delete(c echo.Context) error {
	if err := h.store.DeletePlatform(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete platform: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// ---- activations ----

// ActivationAPI serves /api/v1/activations.
type ActivationAPI struct{ *Server }

// apiActivationJSON is API.md's activation.
type apiActivationJSON struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Status     string                `json:"status"`
	Health     string                `json:"health"`
	Pause      *apiPauseJSON         `json:"pause"`
	LastRun    *apiRunJSON           `json:"last_run"`
	SegmentID  string                `json:"segment_id"`
	PlatformID string                `json:"platform_id"`
	Action     string                `json:"action"`
	Mappings   []models.Mapping      `json:"mappings"`
	Schedule   models.Schedule       `json:"schedule"`
	NextRunAt  *time.Time            `json:"next_run_at"`
	Settings   apiActivationSettings `json:"settings"`
	CreatedAt  time.Time             `json:"created_at"`
	UpdatedAt  time.Time             `json:"updated_at"`
}

// apiPauseJSON says why and since when an activation is paused.
type apiPauseJSON struct {
	Automatic bool       `json:"automatic"`
	Cause     string     `json:"cause"`
	Reason    string     `json:"reason"`
	Since     *time.Time `json:"since"`
}

// apiActivationSettings are an activation's run options, every key always present.
type apiActivationSettings struct {
	DefaultPhoneRegion   string  `json:"default_phone_region"`
	SourceIssueThreshold float64 `json:"source_issue_threshold"`
	SendRemovals         bool    `json:"send_removals"`
}

// apiActivationInput is the body of POST and PATCH /activations.
type apiActivationInput struct {
	Name       *string                  `json:"name"`
	SegmentID  *string                  `json:"segment_id"`
	PlatformID *string                  `json:"platform_id"`
	Action     *string                  `json:"action"`
	Mappings   *[]models.Mapping        `json:"mappings"`
	Schedule   *models.Schedule         `json:"schedule"`
	Settings   *apiActivationSettingsIn `json:"settings"`
}

// apiActivationSettingsIn is settings on input: keys left out keep their value.
type apiActivationSettingsIn struct {
	DefaultPhoneRegion   *string  `json:"default_phone_region"`
	SourceIssueThreshold *float64 `json:"source_issue_threshold"`
	SendRemovals         *bool    `json:"send_removals"`
}

// apply lays the body over req: what the body gives replaces, the rest is kept.
func (in apiActivationInput) apply(req *models.ActivationInput) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&req.Name, in.Name)
	set(&req.SegmentID, in.SegmentID)
	set(&req.PlatformID, in.PlatformID)
	set(&req.Action, in.Action)
	if in.Mappings != nil {
		req.Mappings = *in.Mappings
	}
	if in.Schedule != nil {
		req.Schedule = *in.Schedule
	}
	if req.Schedule.Kind == "" {
		req.Schedule.Kind = "manual"
	}
	if st := in.Settings; st != nil {
		set(&req.Settings.DefaultPhoneRegion, st.DefaultPhoneRegion)
		if st.SourceIssueThreshold != nil {
			req.Settings.SourceIssueThreshold = *st.SourceIssueThreshold
		}
		if st.SendRemovals != nil {
			req.Settings.SendRemovals = *st.SendRemovals
		}
	}
}

// apiActivation shows one activation with its last run.
func (s *Server) apiActivation(ctx context.Context, rv *runView, a *models.Activation) (apiActivationJSON, error) {
	st := a.Settings()
	j := apiActivationJSON{
		ID: a.ID, Name: a.Name, Status: a.Status, Health: a.Health,
		SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: a.Schedule(), NextRunAt: delivery.NextRun(a, time.Now()),
		Settings:  apiActivationSettings{DefaultPhoneRegion: st.DefaultPhoneRegion, SourceIssueThreshold: st.SourceIssueThreshold, SendRemovals: st.SendRemovals},
		CreatedAt: apiTime(a.CreatedAt), UpdatedAt: apiTime(a.UpdatedAt),
	}
	if j.Mappings == nil {
		j.Mappings = []models.Mapping{}
	}
	if a.Status == models.ActivationPaused {
		j.Pause = &apiPauseJSON{Automatic: a.PauseAutomatic, Cause: a.PauseCause, Reason: a.PauseReason, Since: apiTimeOrNull(a.PausedAt)}
	}
	if a.LastRunID != "" {
		r, err := s.store.RunByID(ctx, a.WorkspaceID, a.LastRunID)
		switch {
		case err == nil:
			rv.known(a)
			run := rv.run(ctx, r)
			j.LastRun = &run
		case !models.IsNotFound(err):
			return apiActivationJSON{}, fmt.Errorf("last run: %w", err)
		}
	}
	return j, nil
}

func (h *ActivationAPI) answer(c echo.Context, status int, a *models.Activation) error {
	ctx := c.Request().Context()
	body, err := h.apiActivation(ctx, h.runView(workspaceID(c)), a)
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// Index lists the workspace's activations; ?status= narrows to a health or to paused,
// ?q= to names containing it.
func (h *ActivationAPI) Index(c echo.Context) error {
	status := c.QueryParam("status")
	switch status {
	case "", models.HealthHealthy, models.HealthWarning, models.HealthFailed, models.ActivationPaused, models.HealthNeverRun:
	default:
		return &models.FieldError{Field: "status", Message: "status must be one of healthy, warning, failed, paused, never_run"}
	}
	ctx, ws := c.Request().Context(), workspaceID(c)
	list, err := h.store.ListActivations(ctx, ws, models.ActivationFilter{Status: status, Search: strings.TrimSpace(c.QueryParam("q"))})
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	page, next, err := apiPage(c, list, func(a models.Activation) (string, string) { return a.ID, a.Name })
	if err != nil {
		return err
	}
	rv := h.runView(ws)
	items, err := apiMapList(page, func(a *models.Activation) (apiActivationJSON, error) { return h.apiActivation(ctx, rv, a) })
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listAnswer[apiActivationJSON]{Items: items, NextCursor: next})
}

// Show answers one activation.
func (h *ActivationAPI) Show(c echo.Context) error {
	a, err := h.store.ActivationByID(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("show activation: %w", err)
	}
	return h.answer(c, http.StatusOK, a)
}

// Create checks an activation against its segment's model and its platform's action,
// and saves it, active and never run.
func (h *ActivationAPI) Create(c echo.Context) error {
	var in apiActivationInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	var req models.ActivationInput
	in.apply(&req)
	a, err := h.dl.CreateActivation(c.Request().Context(), actor(c), req)
	if err != nil {
		return fmt.Errorf("create activation: %w", err)
	}
	return h.answer(c, http.StatusCreated, a)
}

// Update changes any of an activation's fields; the others keep their values, and the
// whole is checked again.
func (h *ActivationAPI) Update(c echo.Context) error {
	var in apiActivationInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := h.store.ActivationByID(ctx, workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("update activation: %w", err)
	}
	req := models.ActivationInput{Name: a.Name, SegmentID: a.SegmentID, PlatformID: a.PlatformID, Action: a.Action,
		Mappings: a.Mappings(), Schedule: a.Schedule(), Settings: a.Settings()}
	in.apply(&req)
	if a, err = h.dl.UpdateActivation(ctx, actor(c), a.ID, req); err != nil {
		return fmt.Errorf("update activation: %w", err)
	}
	return h.answer(c, http.StatusOK, a)
}

// Delete removes an activation with its runs and its sync state.
func (h *ActivationAPI) Delete(c echo.Context) error {
	if err := h.store.DeleteActivation(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete activation: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// apiPauseInput is the optional body of POST /activations/{id}/pause.
type apiPauseInput struct {
	Reason string `json:"reason"`
}

// Pause stops an activation by hand: only a person resumes it.
func (h *ActivationAPI) Pause(c echo.Context) error {
	var in apiPauseInput
	if err := apiDecodeOptional(c, &in); err != nil {
		return err
	}
	a := actor(c)
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		reason = "Paused by " + a.Name + "."
	}
	act, err := h.store.Pause(c.Request().Context(), a, c.Param("id"), "", reason)
	if err != nil {
		return fmt.Errorf("pause activation: %w", err)
	}
	return h.answer(c, http.StatusOK, act)
}

// Resume restarts a paused activation, whatever paused it.
func (h *ActivationAPI) Resume(c echo.Context) error {
	act, err := h.store.Resume(c.Request().Context(), actor(c), c.Param("id"), "")
	if err != nil {
		return fmt.Errorf("resume activation: %w", err)
	}
	return h.answer(c, http.StatusOK, act)
}

// apiRunNowInput is the optional body of POST /activations/{id}/runs.
type apiRunNowInput struct {
	FullResync bool `json:"full_resync"`
}

// RunNow queues a run of the activation; a worker picks it up.
func (h *ActivationAPI) RunNow(c echo.Context) error {
	var in apiRunNowInput
	if err := apiDecodeOptional(c, &in); err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), workspaceID(c)
	act, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("run activation: %w", err)
	}
	r, err := h.dl.RunNow(ctx, ws, act.ID, models.TriggerAPI, in.FullResync)
	if err != nil {
		return fmt.Errorf("run activation: %w", err)
	}
	rv := h.runView(ws)
	rv.known(act)
	return c.JSON(http.StatusAccepted, rv.run(ctx, r))
}

// Runs lists the activation's runs, newest first.
func (h *ActivationAPI) Runs(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	act, err := h.store.ActivationByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	runs, err := h.store.ListRuns(ctx, ws, act.ID, apiMaxLimit)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	// Newest first: the page goes on with what sorts before the cursor's run.
	page, next, err := apiSeekPage(c, runs, func(r models.Run) string { return apiSortKey(r.CreatedAt, r.ID) },
		func(key, cursor string) bool { return key < cursor })
	if err != nil {
		return err
	}
	rv := h.runView(ws)
	rv.known(act)
	items := make([]apiRunJSON, len(page))
	for i := range page {
		items[i] = rv.run(ctx, &page[i])
	}
	return c.JSON(http.StatusOK, listAnswer[apiRunJSON]{Items: items, NextCursor: next})
}

// ---- runs ----

// RunAPI serves /api/v1/runs.
type RunAPI struct{ *Server }

// apiRunJSON is API.md's run.
type apiRunJSON struct {
	ID              string           `json:"id"`
	ActivationID    string           `json:"activation_id"`
	Status          string           `json:"status"`
	Trigger         string           `json:"trigger"`
	ScheduledFor    *time.Time       `json:"scheduled_for"`
	FullResync      bool             `json:"full_resync"`
	Stage           *string          `json:"stage"`
	Processed       int64            `json:"processed"`
	CancelRequested bool             `json:"cancel_requested"`
	Counts          models.RunCounts `json:"counts"`
	Error           *apiRunError     `json:"error"`
	CreatedAt       time.Time        `json:"created_at"`
	StartedAt       *time.Time       `json:"started_at"`
	FinishedAt      *time.Time       `json:"finished_at"`
}

// apiRunError is why a run failed or was skipped, and where to fix it (DESIGN.md).
type apiRunError struct {
	Category      string `json:"category"`
	CategoryLabel string `json:"category_label"`
	Message       string `json:"message"`
	Fix           apiFix `json:"fix"`
}

// apiFix is a link to the exact place to fix an error.
type apiFix struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// apiIssueJSON is one record of a run that was not delivered.
type apiIssueJSON struct {
	PrimaryKey string `json:"primary_key"`
	Stage      string `json:"stage"`
	Code       string `json:"code"`
	Field      string `json:"field"`
	Message    string `json:"message"`
}

// apiLogJSON is one line of a run's log.
type apiLogJSON struct {
	At      time.Time `json:"at"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// runView shows runs with the links of their fixes; it remembers the activations it
// looked up, so a list costs one lookup per activation.
type runView struct {
	s    *Server
	ws   string
	acts map[string]*models.Activation
}

func (s *Server) runView(workspaceID string) *runView {
	return &runView{s: s, ws: workspaceID, acts: map[string]*models.Activation{}}
}

// known tells the view an activation it already has.
func (rv *runView) known(a *models.Activation) { rv.acts[a.ID] = a }

// run shows one run.
func (rv *runView) run(ctx context.Context, r *models.Run) apiRunJSON {
	j := apiRunJSON{
		ID: r.ID, ActivationID: r.ActivationID, Status: r.Status, Trigger: r.Trigger,
		FullResync: r.FullResync, Processed: r.Processed, CancelRequested: r.CancelRequested, Counts: r.RunCounts,
		CreatedAt: apiTime(r.CreatedAt), StartedAt: apiTimeOrNull(r.StartedAt), FinishedAt: apiTimeOrNull(r.FinishedAt),
	}
	if r.Trigger == models.TriggerSchedule {
		j.ScheduledFor = apiTimeOrNull(r.ScheduledFor)
	}
	if r.Stage != "" {
		j.Stage = &r.Stage
	}
	if r.Status == models.RunFailed || r.Status == models.RunSkipped {
		cat := connectors.Category(r.ErrorCategory)
		msg := r.ErrorMessage
		if msg == "" {
			msg = "The run " + r.Status + " without saying why; its log may tell more."
		}
		j.Error = &apiRunError{Category: string(cat), CategoryLabel: cat.Label(), Message: msg, Fix: rv.fix(ctx, r)}
	}
	return j
}

// fix is where a run's error is fixed (DESIGN.md: every error carries a link to the
// exact place): the pages' runFix, as an absolute URL under the configured base URL.
// A skipped run links to its activation, whose page says why it is paused and resumes
// it; an error without a known place links to the run.
func (rv *runView) fix(ctx context.Context, r *models.Run) apiFix {
	base := strings.TrimRight(rv.s.cfg.BaseURL, "/")
	if r.Status == models.RunSkipped {
		return apiFix{"Open the activation", base + rv.s.echo.Reverse("activations.show", r.ActivationID)}
	}
	if a := rv.activation(ctx, r.ActivationID); a != nil {
		if f := runFix(ctx, rv.s.store, r, a); f != nil {
			return apiFix{f.Label, base + rv.s.echo.Reverse(f.Route, f.Param) + f.Query}
		}
	}
	return apiFix{"Open the run", base + rv.s.echo.Reverse("runs.show", r.ID)}
}

// activation is the run's activation, nil if it cannot be read (the link falls back).
func (rv *runView) activation(ctx context.Context, id string) *models.Activation {
	if a, ok := rv.acts[id]; ok {
		return a
	}
	a, err := rv.s.store.ActivationByID(ctx, rv.ws, id)
	if err != nil {
		a = nil
	}
	rv.acts[id] = a
	return a
}

// Show answers one run.
func (h *RunAPI) Show(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("show run: %w", err)
	}
	return c.JSON(http.StatusOK, h.runView(ws).run(ctx, r))
}

// Issues lists the records of a run that were not delivered; ?stage=source|destination
// narrows to source issues or destination rejections.
func (h *RunAPI) Issues(c echo.Context) error {
	stage := c.QueryParam("stage")
	switch stage {
	case "", "source", "destination":
	default:
		return &models.FieldError{Field: "stage", Message: "stage must be source or destination."}
	}
	limit, err := apiLimit(c)
	if err != nil {
		return err
	}
	cursor := ""
	if v := c.QueryParam("cursor"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(raw) == 0 {
			return apiBadCursor()
		}
		cursor = string(raw)
	}
	list, next, err := h.store.ListRunIssues(c.Request().Context(), workspaceID(c), c.Param("id"), models.IssueFilter{Stage: stage, Cursor: cursor, Limit: limit})
	if err != nil {
		return fmt.Errorf("list run issues: %w", err)
	}
	items := make([]apiIssueJSON, len(list))
	for i, is := range list {
		items[i] = apiIssueJSON{PrimaryKey: is.PrimaryKey, Stage: is.Stage, Code: is.Code, Field: is.Field, Message: is.Message}
	}
	if next != "" {
		next = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return c.JSON(http.StatusOK, listAnswer[apiIssueJSON]{Items: items, NextCursor: next})
}

// apiMaxLogLines is how many lines of one run's log the API reads.
const apiMaxLogLines = 10000

// Logs lists a run's log, oldest first.
func (h *RunAPI) Logs(c echo.Context) error {
	logs, err := h.store.ListRunLogs(c.Request().Context(), workspaceID(c), c.Param("id"), apiMaxLogLines)
	if err != nil {
		return fmt.Errorf("list run logs: %w", err)
	}
	page, next, err := apiSeekPage(c, logs, func(l models.RunLog) string { return apiSortKey(l.At, l.ID) },
		func(key, cursor string) bool { return key > cursor })
	if err != nil {
		return err
	}
	items := make([]apiLogJSON, len(page))
	for i, l := range page {
		items[i] = apiLogJSON{At: apiTime(l.At), Level: l.Level, Message: l.Message}
	}
	return c.JSON(http.StatusOK, listAnswer[apiLogJSON]{Items: items, NextCursor: next})
}

// Samples lists the requests and answers a run kept for the debugger, oldest first.
func (h *RunAPI) Samples(c echo.Context) error {
	samples, err := h.store.ListRunSamples(c.Request().Context(), workspaceID(c), c.Param("id"))
	if err != nil {
		return fmt.Errorf("list run samples: %w", err)
	}
	page, next, err := apiSeekPage(c, samples, func(s models.RunSample) string { return apiSortKey(s.CreatedAt, s.ID) },
		func(key, cursor string) bool { return key > cursor })
	if err != nil {
		return err
	}
	items := make([]json.RawMessage, 0, len(page))
	for _, s := range page {
		if json.Valid([]byte(s.ExchangeJSON)) {
			items = append(items, json.RawMessage(s.ExchangeJSON))
		}
	}
	return c.JSON(http.StatusOK, listAnswer[json.RawMessage]{Items: items, NextCursor: next})
}

// Cancel stops a run: a queued one at once, a running one at its next heartbeat.
func (h *RunAPI) Cancel(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceID(c)
	r, err := h.store.RunByID(ctx, ws, c.Param("id"))
	if err != nil {
		return fmt.Errorf("cancel run: %w", err)
	}
	if r.Finished() {
		return echo.NewHTTPError(http.StatusConflict, "This run is over already ("+r.Status+"): there is nothing to cancel.")
	}
	if r, err = h.store.CancelRun(ctx, ws, r.ID); err != nil {
		var fe *models.FieldError
		if errors.As(err, &fe) && fe.Field == "run" { // it ended meanwhile
			return echo.NewHTTPError(http.StatusConflict, "This run is over already: there is nothing to cancel.")
		}
		return fmt.Errorf("cancel run: %w", err)
	}
	return c.JSON(http.StatusOK, h.runView(ws).run(ctx, r))
}

// ---- helpers ----

// apiDecodeOptional is apiDecode for bodies that may be left out: an empty body leaves v as it is.
func apiDecodeOptional(c echo.Context, v any) error {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read.")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(raw))
	return apiDecode(c, v)
}

// apiLimit reads ?limit= (default 50, at most 500).
func apiLimit(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return apiDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &models.FieldError{Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", apiMaxLimit)}
	}
	return min(n, apiMaxLimit), nil
}

func apiBadCursor() error {
	return echo.NewHTTPError(http.StatusBadRequest, "This cursor is not valid. Start again from the first page, without one.")
}

// apiSortKey orders rows by time then id, as text: fixed-width UTC time, then the id.
func apiSortKey(t time.Time, id string) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "|" + id
}

// apiSeekPage cuts one page out of items in their order. The cursor is the sort key of
// the page's last item; the next page starts at the first item whose key comes after
// it (after(key, cursor)), so a page goes on right even when that item is gone.
func apiSeekPage[T any](c echo.Context, items []T, key func(T) string, after func(key, cursor string) bool) ([]T, string, error) {
	limit, err := apiLimit(c)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || !strings.Contains(string(raw), "|") {
			return nil, "", apiBadCursor()
		}
		start = len(items)
		if i := slices.IndexFunc(items, func(it T) bool { return after(key(it), string(raw)) }); i >= 0 {
			start = i
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	}
	return items[start:end], next, nil
}
