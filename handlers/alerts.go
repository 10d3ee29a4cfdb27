package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/core"
	"sluice/models"
	"sluice/views/components"
	"sluice/views/settings"
)

// AlertHandler serves Settings → Alerts: everyone reads, admins change.
type AlertHandler struct{ *Server }

// alertOverridesPage is how many activations the override table shows at once.
const alertOverridesPage = 20

// Index shows the settings and one page of the per-activation table.
func (h *AlertHandler) Index(c echo.Context) error {
	set, err := h.store.AlertSettings(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	form, err := h.formOf(c, set)
	if err != nil {
		return err
	}
	return h.page(c, http.StatusOK, form, settings.AlertTestProps{})
}

func (h *AlertHandler) page(c echo.Context, status int, form settings.AlertFormProps, test settings.AlertTestProps) error {
	overrides, err := h.overrides(c)
	if err != nil {
		return err
	}
	failed, err := h.failedAlerts(c)
	if err != nil {
		return err
	}
	p := settings.AlertsProps{Form: form, Overrides: overrides, Test: test, Failed: failed}
	return h.render(c, status, settings.AlertsPage(p), settings.AlertForm(form, test))
}

// failedAlertsShown is how many failed deliveries the page lists: the most recent.
const failedAlertsShown = 20

// failedAlerts are the most recent deliveries the outbox gave up on, each reason in
// plain words beside the error as it was recorded (which holds no secret).
func (h *AlertHandler) failedAlerts(c echo.Context) ([]settings.FailedAlertRow, error) {
	msgs, err := h.store.FailedAlerts(c.Request().Context(), workspaceID(c), failedAlertsShown)
	if err != nil {
		return nil, fmt.Errorf("failed alerts: %w", err)
	}
	rows := make([]settings.FailedAlertRow, 0, len(msgs))
	for _, m := range msgs {
		at := m.CreatedAt
		if !m.NextAttemptAt.IsZero() {
			at = m.NextAttemptAt // when it was given up on
		}
		reason, detail := plainAlertError(m.Channel, m.LastError)
		rows = append(rows, settings.FailedAlertRow{At: at, Channel: m.Channel, Target: m.TargetLabel, Reason: reason, Detail: detail, Attempts: m.Attempts})
	}
	return rows, nil
}

// plainAlertError says why a delivery failed in words an admin acts on, and returns
// the recorded error (without its package prefix) as the detail.
func plainAlertError(channel, lastError string) (reason, detail string) {
	detail = strings.ReplaceAll(lastError, "notify: ", "")
	e := strings.ToLower(lastError)
	status := func(codes ...string) bool {
		for _, code := range codes {
			if strings.Contains(e, "answered "+code) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.Contains(e, "no smtp server is configured"):
		return "No mail server is set up: set SLUICE_SMTP_URL, restart Sluice, then send a test alert.", ""
	case channel == models.ChannelSlack && status("404", "410"):
		return "Slack no longer knows this webhook: it was removed or its app uninstalled. Create a new incoming webhook and save its URL.", detail
	case channel == models.ChannelSlack && status("403"):
		return "Slack refused this webhook: the channel may be archived or the app not allowed to post there.", detail
	case channel == models.ChannelSlack && status("400"):
		return "Slack refused the message as invalid.", detail
	case channel == models.ChannelSlack && (status("429") || status("5")):
		return "Slack was unavailable or busy each time Sluice tried.", detail
	case channel == models.ChannelSlack && (strings.Contains(e, "not a public") || strings.Contains(e, "private") || strings.Contains(e, "loopback")):
		return "The webhook's host is not on the internet, and Sluice does not post alerts to private addresses.", detail
	case channel == models.ChannelSlack:
		return "Sluice could not reach Slack.", detail
	case strings.Contains(e, "recipient"):
		return "The mail server refused this address.", detail
	case strings.Contains(e, "auth"):
		return "The mail server refused Sluice's user name or password (SLUICE_SMTP_URL).", detail
	case lastError == "":
		return "It could not be delivered.", ""
	}
	return "Sluice could not send the e-mail through the mail server.", detail
}

// formOf fills the form from stored settings.
func (h *AlertHandler) formOf(c echo.Context, set *models.AlertSettings) (settings.AlertFormProps, error) {
	users, err := h.store.ListUsers(c.Request().Context(), workspaceID(c))
	if err != nil {
		return settings.AlertFormProps{}, fmt.Errorf("list users: %w", err)
	}
	f := settings.AlertFormProps{Users: users, Events: set.Events, Thresholds: set.Thresholds, Routing: set.Routing}
	isUser := map[string]bool{}
	for _, u := range users {
		isUser[u.ID] = true
	}
	var addresses []string
	for _, r := range set.Recipients {
		if isUser[r] {
			f.UserRecipients = append(f.UserRecipients, r)
		} else {
			addresses = append(addresses, r)
		}
	}
	f.Addresses = strings.Join(addresses, "\n")
	for _, u := range set.SlackWebhookURLs {
		f.SlackURLs = append(f.SlackURLs, models.MaskWebhookURL(u))
	}
	return f, nil
}

func (h *AlertHandler) overrides(c echo.Context) (settings.AlertOverridesProps, error) {
	q := strings.TrimSpace(c.QueryParam("q"))
	pageNo, _ := strconv.Atoi(c.QueryParam("page"))
	pageNo = max(pageNo, 1)
	rows, total, err := h.store.ActivationAlertRows(c.Request().Context(), workspaceID(c),
		models.AlertOverrideFilter{Search: q, Offset: (pageNo - 1) * alertOverridesPage, Limit: alertOverridesPage})
	if err != nil {
		return settings.AlertOverridesProps{}, fmt.Errorf("alert overrides: %w", err)
	}
	p := settings.AlertOverridesProps{Rows: rows, Search: q, Total: total}
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return c.Echo().Reverse("alerts.index") + "?" + v.Encode()
	}
	if pageNo > 1 {
		p.PrevURL = link(pageNo - 1)
	}
	if int64(pageNo*alertOverridesPage) < total {
		p.NextURL = link(pageNo + 1)
	}
	return p, nil
}

type alertForm struct {
	Users     []string `form:"recipient_user"`
	Addresses string   `form:"addresses"`
	Slack     []string `form:"slack_url"`
	Events    []string `form:"event"`
	Issues    string   `form:"source_issues_percent"`
	Slow      string   `form:"slow_run_factor"`
	Drop      string   `form:"audience_drop_percent"`
}

// splitAddresses reads addresses typed one per line or separated by commas.
func splitAddresses(s string) []string {
	var out []string
	for _, a := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ';' }) {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

var indexedField = regexp.MustCompile(`^(.*)\[(\d+)\]`)

// Update saves the settings form; field errors come back beside their field.
func (h *AlertHandler) Update(c echo.Context) error {
	var f alertForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	form := settings.AlertFormProps{UserRecipients: f.Users, Addresses: f.Addresses, SlackURLs: f.Slack, Events: f.Events, Routing: map[string][]string{}}
	users, err := h.store.ListUsers(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	form.Users = users
	errs := components.FormErrors{}
	for _, t := range []struct {
		raw, name string
		dst       *int
	}{{f.Issues, "source_issues_percent", &form.Thresholds.SourceIssuesPercent}, {f.Slow, "slow_run_factor", &form.Thresholds.SlowRunFactor}, {f.Drop, "audience_drop_percent", &form.Thresholds.AudienceDropPercent}} {
		if strings.TrimSpace(t.raw) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(t.raw))
		if err != nil {
			errs[t.name] = "Enter a whole number, or leave it empty."
			continue
		}
		*t.dst = n
	}
	form.Routing = map[string][]string{}
	for _, cat := range models.AlertCategories {
		if v := c.Request().PostForm["route_"+cat.Code]; len(v) > 0 {
			form.Routing[cat.Code] = v
		}
	}
	if len(errs) > 0 {
		form.Errors = errs
		return h.page(c, http.StatusUnprocessableEntity, form, settings.AlertTestProps{})
	}
	addresses := splitAddresses(f.Addresses)
	recipients := append(append([]string{}, f.Users...), addresses...)
	_, err = h.core.UpdateAlertSettings(c.Request().Context(), actor(c), core.AlertSettingsInput{
		Settings: models.AlertSettings{Recipients: recipients, SlackWebhookURLs: f.Slack, Events: f.Events,
			Thresholds: form.Thresholds, Routing: form.Routing},
		AllowPrivateNetworks: h.cfg.AllowPrivateNetworks,
	})
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		form.Errors = components.FormErrors{alertFormField(fe): alertFormMessage(fe, recipients)}
		return h.page(c, http.StatusUnprocessableEntity, form, settings.AlertTestProps{})
	}
	if err != nil {
		return fmt.Errorf("update alert settings: %w", err)
	}
	if err := flash(c, "success", "Alert settings saved."); err != nil {
		return err
	}
	return redirect(c, c.Echo().Reverse("alerts.index"))
}

// alertFormField is the form field an error of the settings is shown beside.
func alertFormField(fe *models.FieldError) string {
	name, idx := fe.Field, ""
	if m := indexedField.FindStringSubmatch(fe.Field); m != nil {
		name, idx = m[1], m[2]
	}
	switch {
	case strings.HasPrefix(name, "email.recipients"):
		return "addresses"
	case strings.HasPrefix(name, "slack.webhook_urls"):
		if idx == "" {
			return "slack_url[0]"
		}
		return "slack_url[" + idx + "]"
	case strings.HasPrefix(name, "events"):
		return "events"
	case strings.HasPrefix(name, "routing"):
		return "routing"
	case strings.HasPrefix(name, "thresholds."):
		return strings.TrimPrefix(name, "thresholds.")
	}
	return name
}

// alertFormMessage names the recipient at fault, since the form shows them together.
func alertFormMessage(fe *models.FieldError, recipients []string) string {
	if m := indexedField.FindStringSubmatch(fe.Field); m != nil && m[1] == "email.recipients" {
		if i, err := strconv.Atoi(m[2]); err == nil && i < len(recipients) {
			return fmt.Sprintf("%q: %s", recipients[i], fe.Message)
		}
	}
	return fe.Message
}

// pageWithRowError is the whole page with an override's refusal on its row (a plain
// form post, without htmx).
func (h *AlertHandler) pageWithRowError(c echo.Context, activationID, msg string) error {
	set, err := h.store.AlertSettings(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	form, err := h.formOf(c, set)
	if err != nil {
		return err
	}
	overrides, err := h.overrides(c)
	if err != nil {
		return err
	}
	overrides.RowError = map[string]string{activationID: msg}
	failed, err := h.failedAlerts(c)
	if err != nil {
		return err
	}
	p := settings.AlertsProps{Form: form, Overrides: overrides, Failed: failed}
	return h.render(c, http.StatusUnprocessableEntity, settings.AlertsPage(p), nil)
}

type alertOverrideForm struct {
	Muted string `form:"muted"`
	Extra string `form:"extra_recipients"`
}

// UpdateOverride saves one activation's override (mute, extra recipients).
func (h *AlertHandler) UpdateOverride(c echo.Context) error {
	var f alertOverrideForm
	if err := c.Bind(&f); err != nil {
		return echo.ErrBadRequest
	}
	extra := splitAddresses(f.Extra)
	o, err := h.core.UpdateAlertOverride(c.Request().Context(), actor(c), models.AlertOverride{ActivationID: c.Param("id"), Muted: f.Muted == "true", Extra: extra})
	var fe *models.FieldError
	if asFieldErr(err, &fe) {
		act, aerr := h.store.ActivationByID(c.Request().Context(), workspaceID(c), c.Param("id"))
		if aerr != nil {
			return aerr
		}
		msg := alertFormMessage(&models.FieldError{Field: strings.Replace(fe.Field, "extra_recipients", "email.recipients", 1), Message: fe.Message}, extra)
		row := models.AlertOverride{ActivationID: act.ID, ActivationName: act.Name, Muted: f.Muted == "true", Extra: extra}
		if !isHTMX(c) {
			return h.pageWithRowError(c, act.ID, msg)
		}
		return h.render(c, http.StatusUnprocessableEntity, settings.AlertOverrideRow(row, msg), nil)
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		if err := flash(c, "success", "Alerts of "+o.ActivationName+" saved."); err != nil {
			return err
		}
		return redirect(c, c.Echo().Reverse("alerts.index"))
	}
	return h.render(c, http.StatusOK, settings.AlertOverrideRow(*o, ""), nil)
}

// SendTest is "Send test alert" on one channel: it queues a test message to every
// target of the channel, which the alert dispatcher sends; its answer shows beside the
// button.
func (h *AlertHandler) SendTest(c echo.Context) error {
	res, err := h.core.SendTestAlert(c.Request().Context(), actor(c), core.TestAlertInput{
		Channel: c.FormValue("channel"), SettingsURL: h.cfg.BaseURL + c.Echo().Reverse("alerts.index")})
	if err != nil {
		return fmt.Errorf("send test alert: %w", err)
	}
	set, err := h.store.AlertSettings(c.Request().Context(), workspaceID(c))
	if err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	form, err := h.formOf(c, set)
	if err != nil {
		return err
	}
	return h.page(c, http.StatusOK, form, settings.AlertTestProps{Channel: c.FormValue("channel"), Message: res.Message})
}
