package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
)

// This file is the JSON API of platforms (API.md, "Resources"). Choices where API.md is
// silent:
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
	CheckedAt     *apiTimestamp     `json:"checked_at"`
	// BrokenSince is when the platform broke (null while connected).
	BrokenSince *apiTimestamp `json:"broken_since"`
	// ConnectedBy and ConnectedAt say who gave Sluice its credentials or consent, when.
	ConnectedBy string        `json:"connected_by"`
	ConnectedAt *apiTimestamp `json:"connected_at"`
	// OAuth platforms: the scopes granted, when the access token ends (renewed
	// automatically) and when the authorization itself ends (null when it does not).
	Scopes         []string      `json:"scopes,omitempty"`
	TokenExpiresAt *apiTimestamp `json:"token_expires_at,omitempty"`
	GrantExpiresAt *apiTimestamp `json:"grant_expires_at,omitempty"`
	CreatedAt      apiTimestamp  `json:"created_at"`
	UpdatedAt      apiTimestamp  `json:"updated_at"`
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
	maskSecrets(cfg, full)
	return apiPlatformJSON{
		ID: p.ID, Name: p.Name, Kind: p.Kind, Status: p.Status, StatusMessage: p.StatusMessage, Config: cfg,
		CheckedAt: apiTimeOrNull(p.CheckedAt), BrokenSince: apiTimeOrNull(p.BrokenAt),
		ConnectedBy: p.ConnectedBy, ConnectedAt: apiTimeOrNull(p.ConnectedAt),
		Scopes: p.ScopeList(), TokenExpiresAt: apiTimeOrNull(p.TokenExpiresAt), GrantExpiresAt: apiTimeOrNull(p.GrantExpiresAt),
		CreatedAt: apiTime(p.CreatedAt), UpdatedAt: apiTime(p.UpdatedAt),
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
		for _, sp := range h.core.Registry().DestinationSpecs() {
			kinds = append(kinds, sp.Kind)
		}
		return &models.FieldError{Field: "kind", Message: "Choose the kind of platform: " + strings.Join(kinds, ", ") + "."}
	}
	spec, err := h.core.DestinationSpec(strings.TrimSpace(*in.Kind))
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
	p, err := h.core.CreatePlatform(c.Request().Context(), actor(c), spec.Kind, models.PlatformInput{Name: name, Config: cfg})
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
		spec, err := h.core.DestinationSpec(p.Kind)
		if err != nil {
			return err
		}
		if patch.Config, credKeys, err = in.settings(spec); err != nil {
			return err
		}
	}
	if p, err = h.core.UpdatePlatform(ctx, actor(c), p.ID, patch); err != nil {
		return fmt.Errorf("update platform: %w", apiCredentialError(err, credKeys))
	}
	return h.answer(c, http.StatusOK, p)
}

// Delete removes a platform no activation sends to; otherwise 409 lists the activations.
func (h *PlatformAPI) Delete(c echo.Context) error {
	if err := h.core.DeletePlatform(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return fmt.Errorf("delete platform: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}
