package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
)

// This file is the JSON API of alert settings (API.md: GET and PUT /alerts). Choices
// where API.md is silent:
//
//   - Besides API.md's email.recipients, slack.webhook_url and events, the settings
//     carry slack.webhook_urls (every Slack webhook; webhook_url is the first),
//     thresholds, routing and overrides. A recipient is a user id of the workspace or an
//     e-mail address.
//   - Slack URLs are always shown masked ("https://hooks.slack.com/services/***"); sent
//     back as shown, they keep the stored ones. An empty webhook_url removes the first.
//   - PUT changes what it is given: a field left out keeps its stored value.
//     overrides, when given, replace every override.

// AlertAPI serves /api/v1/alerts.
type AlertAPI struct{ *Server }

type apiAlertEmail struct {
	Recipients []string `json:"recipients"`
}

type apiAlertSlack struct {
	WebhookURL  string   `json:"webhook_url"`
	WebhookURLs []string `json:"webhook_urls"`
}

// apiAlertsJSON is the settings as GET and PUT answer them.
type apiAlertsJSON struct {
	Email      apiAlertEmail          `json:"email"`
	Slack      apiAlertSlack          `json:"slack"`
	Events     []string               `json:"events"`
	Thresholds models.AlertThresholds `json:"thresholds"`
	Routing    map[string][]string    `json:"routing"`
	Overrides  []models.AlertOverride `json:"overrides"`
	UpdatedAt  *apiTimestamp          `json:"updated_at"`
}

// apiAlertsInput is the body of PUT /alerts; nil fields keep their stored value.
type apiAlertsInput struct {
	Email *struct {
		Recipients *[]string `json:"recipients"`
	} `json:"email"`
	Slack *struct {
		WebhookURL  *string   `json:"webhook_url"`
		WebhookURLs *[]string `json:"webhook_urls"`
	} `json:"slack"`
	Events     *[]string `json:"events"`
	Thresholds *struct {
		SourceIssuesPercent *int `json:"source_issues_percent"`
		SlowRunFactor       *int `json:"slow_run_factor"`
		AudienceDropPercent *int `json:"audience_drop_percent"`
	} `json:"thresholds"`
	Routing   *map[string][]string `json:"routing"`
	Overrides *[]struct {
		ActivationID    string   `json:"activation_id"`
		Muted           bool     `json:"muted"`
		ExtraRecipients []string `json:"extra_recipients"`
	} `json:"overrides"`
}

func alertsJSON(set *models.AlertSettings) apiAlertsJSON {
	out := apiAlertsJSON{
		Email:      apiAlertEmail{Recipients: set.Recipients},
		Slack:      apiAlertSlack{WebhookURLs: []string{}},
		Events:     set.Events,
		Thresholds: set.Thresholds,
		Routing:    set.Routing,
		Overrides:  set.Overrides,
	}
	for _, u := range set.SlackWebhookURLs {
		out.Slack.WebhookURLs = append(out.Slack.WebhookURLs, models.MaskWebhookURL(u))
	}
	if len(out.Slack.WebhookURLs) > 0 {
		out.Slack.WebhookURL = out.Slack.WebhookURLs[0]
	}
	if out.Email.Recipients == nil {
		out.Email.Recipients = []string{}
	}
	if out.Overrides == nil {
		out.Overrides = []models.AlertOverride{}
	}
	if set.Saved {
		t := apiTime(set.UpdatedAt)
		out.UpdatedAt = &t
	}
	return out
}

// Show answers the workspace's alert settings, Slack URLs masked.
func (h *AlertAPI) Show(c echo.Context) error {
	set, err := h.store.AlertSettings(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	return c.JSON(http.StatusOK, alertsJSON(set))
}

// Update changes the alert settings (admins).
func (h *AlertAPI) Update(c echo.Context) error {
	var in apiAlertsInput
	if err := apiDecode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := h.store.AlertSettings(ctx, workspaceID(c))
	if err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	set := *cur
	if in.Email != nil && in.Email.Recipients != nil {
		set.Recipients = *in.Email.Recipients
	}
	// Every stored URL goes back masked: the core keeps those and checks the new ones.
	masked := alertsJSON(cur).Slack.WebhookURLs
	set.SlackWebhookURLs = masked
	if in.Slack != nil {
		switch {
		case in.Slack.WebhookURLs != nil && in.Slack.WebhookURL != nil:
			return &models.FieldError{Field: "slack.webhook_url", Message: "Give webhook_url or webhook_urls, not both."}
		case in.Slack.WebhookURLs != nil:
			set.SlackWebhookURLs = *in.Slack.WebhookURLs
		case in.Slack.WebhookURL != nil && len(masked) == 0:
			set.SlackWebhookURLs = []string{*in.Slack.WebhookURL}
		case in.Slack.WebhookURL != nil:
			set.SlackWebhookURLs = append([]string{*in.Slack.WebhookURL}, masked[1:]...)
		}
	}
	if in.Events != nil {
		set.Events = *in.Events
	}
	if t := in.Thresholds; t != nil {
		for _, v := range []struct {
			src *int
			dst *int
		}{{t.SourceIssuesPercent, &set.Thresholds.SourceIssuesPercent}, {t.SlowRunFactor, &set.Thresholds.SlowRunFactor}, {t.AudienceDropPercent, &set.Thresholds.AudienceDropPercent}} {
			if v.src != nil {
				*v.dst = *v.src
			}
		}
	}
	if in.Routing != nil {
		set.Routing = *in.Routing
	}
	if in.Overrides != nil {
		set.Overrides = nil
		for _, o := range *in.Overrides {
			set.Overrides = append(set.Overrides, models.AlertOverride{ActivationID: o.ActivationID, Muted: o.Muted, Extra: o.ExtraRecipients})
		}
	}
	// A single webhook_url reports its errors under that name.
	saved, err := h.core.UpdateAlertSettings(ctx, actor(c), core.AlertSettingsInput{
		Settings: set, SetOverrides: in.Overrides != nil, AllowPrivateNetworks: h.cfg.AllowPrivateNetworks,
	})
	if fe := (*models.FieldError)(nil); asFieldErr(err, &fe) && in.Slack != nil && in.Slack.WebhookURL != nil && fe.Field == "slack.webhook_urls[0]" {
		return &models.FieldError{Field: "slack.webhook_url", Message: fe.Message}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, alertsJSON(saved))
}
