package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sluice/connectors"
)

// Alert events: what can alert (Settings → Alerts, API.md's `events`).
const (
	EventRunFailed         = "run_failed"
	EventActivationPaused  = "activation_paused"
	EventActivationResumed = "activation_resumed"
	EventSourceBroken      = "source_broken"
	EventPlatformBroken    = "platform_broken"
	EventSchemaIssues      = "schema_issues"
	EventTokenExpiring     = "token_expiring"
	EventThresholdPassed   = "threshold_passed"
)

// AlertEvent is an event with the words the settings page shows for it.
type AlertEvent struct {
	Code, Label, Hint string
}

// AlertEvents lists every event, in the order the page shows them.
var AlertEvents = []AlertEvent{
	{EventRunFailed, "A run failed", "Any run that ends failed or interrupted."},
	{EventActivationPaused, "An activation was paused automatically", "Its source, a column it uses or its platform broke, or too many source issues."},
	{EventActivationResumed, "An activation was resumed automatically", "The cause of an automatic pause is gone."},
	{EventSourceBroken, "A source is broken", "Validation could not connect to a warehouse or read what models use."},
	{EventPlatformBroken, "A platform needs re-authorizing", "A destination refused Sluice's credentials."},
	{EventSchemaIssues, "Schema issues were found", "A model's table, primary key or column is missing, renamed or changed type."},
	{EventTokenExpiring, "A platform's token is about to expire", "For platforms connected with OAuth."},
	{EventThresholdPassed, "A threshold was passed", "One of the thresholds below."},
}

// Alert routing targets: who hears of an alert of a category.
const (
	// TargetRecipients is the e-mail recipients of the settings.
	TargetRecipients = "recipients"
	// TargetAdmins is every admin of the workspace, by e-mail.
	TargetAdmins = "admins"
	// TargetCreator is whoever created the activation, as the audit log records it; an
	// activation created by Sluice itself (the demo) or by an API token has no creator
	// to tell, and its alerts go to the recipients instead.
	TargetCreator = "creator"
	// TargetSlack is every Slack webhook of the settings.
	TargetSlack = "slack"
)

// AlertTargets lists the routing targets with their labels, for the page.
var AlertTargets = []AlertEvent{
	{TargetRecipients, "E-mail recipients", ""},
	{TargetAdmins, "Admins", ""},
	{TargetCreator, "The activation's creator", "Whoever created the activation, as the audit log records it."},
	{TargetSlack, "Slack", ""},
}

// RouteAll is the routing key of every category that has no route of its own.
const RouteAll = "all"

// AlertCategories lists the routing keys: every error category, then RouteAll.
var AlertCategories = []AlertEvent{
	{string(connectors.CategoryConnection), "Connection Error", ""},
	{string(connectors.CategoryCredentials), "Bad Credentials/Insufficient permissions", ""},
	{string(connectors.CategoryRateLimit), "Rate Limit", ""},
	{string(connectors.CategoryConfiguration), "Configuration Errors", ""},
	{string(connectors.CategoryTimeout), "Timeouts", ""},
	{string(connectors.CategoryNotFound), "Resource Not Found", ""},
	{RouteAll, "Everything else", ""},
}

// Bounds of alert settings.
const (
	maxAlertRecipients = 100
	maxSlackWebhooks   = 10
	maxWebhookURL      = 2000
	maxAddress         = 254
)

// AlertThresholds say when a run that did not fail still alerts (threshold_passed).
// Zero turns a threshold off.
type AlertThresholds struct {
	// SourceIssuesPercent: source issues or destination rejections above this share of
	// a run's records.
	SourceIssuesPercent int `json:"source_issues_percent"`
	// SlowRunFactor: a run that took more than this many times its usual time.
	SlowRunFactor int `json:"slow_run_factor"`
	// AudienceDropPercent: an audience that shrank by more than this share in one run.
	AudienceDropPercent int `json:"audience_drop_percent"`
}

// AlertOverride is one activation's exception to the workspace's alert settings.
type AlertOverride struct {
	ActivationID   string   `json:"activation_id"`
	ActivationName string   `json:"activation_name"`
	Muted          bool     `json:"muted"`
	Extra          []string `json:"extra_recipients"`
}

// AlertSettings are a workspace's alert settings, Slack URLs unsealed (in memory only:
// show them through MaskWebhookURL).
type AlertSettings struct {
	WorkspaceID string
	// Recipients are user ids of the workspace or e-mail addresses, lower-cased.
	Recipients []string
	// SlackWebhookURLs are Slack incoming-webhook URLs: secrets.
	SlackWebhookURLs []string
	// Events are the codes of the events that alert.
	Events []string
	// Routing maps a category (or RouteAll) to its targets. A category without a route
	// follows RouteAll; with neither, alerts go to the recipients and to Slack.
	Routing    map[string][]string
	Thresholds AlertThresholds
	// Overrides are the activations with an override, by activation name.
	Overrides []AlertOverride
	// Saved is false for a workspace that never saved its settings (the defaults).
	Saved     bool
	UpdatedAt time.Time
}

// DefaultAlertSettings are the settings of a workspace that never saved any: every
// event, sent to nobody yet.
func DefaultAlertSettings(workspaceID string) *AlertSettings {
	events := make([]string, len(AlertEvents))
	for i, e := range AlertEvents {
		events[i] = e.Code
	}
	return &AlertSettings{WorkspaceID: workspaceID, Events: events, Routing: map[string][]string{}}
}

// alertSettingsRow is the stored row of AlertSettings.
type alertSettingsRow struct {
	WorkspaceID         string `gorm:"primaryKey"`
	RecipientsJSON      string
	SlackSealed         string
	SlackCount          int
	EventsJSON          string
	RoutingJSON         string
	SourceIssuesPercent int
	SlowRunFactor       int
	AudienceDropPercent int
	UpdatedAt           time.Time
}

func (alertSettingsRow) TableName() string { return "alert_settings" }

// alertOverrideRow is the stored row of AlertOverride.
type alertOverrideRow struct {
	WorkspaceID         string `gorm:"primaryKey"`
	ActivationID        string `gorm:"primaryKey"`
	Muted               bool
	ExtraRecipientsJSON string
	UpdatedAt           time.Time
}

func (alertOverrideRow) TableName() string { return "alert_overrides" }

func alertSealOwner(workspaceID string) string { return "alerts:" + workspaceID }

// MaskWebhookURL shows a webhook URL without its secret: the scheme, the host and, when
// more follows it, the first path segment, then "***"
// ("https://hooks.slack.com/services/***"). User info, query and the rest are dropped.
func MaskWebhookURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "***"
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	out := u.Scheme + "://" + u.Host + "/"
	if len(segs) > 1 && segs[0] != "" {
		out += segs[0] + "/"
	}
	return out + "***"
}

// IsMaskedWebhookURL reports whether s is a URL as MaskWebhookURL shows it.
func IsMaskedWebhookURL(s string) bool { return strings.HasSuffix(strings.TrimSpace(s), "/***") }

// KeepMaskedWebhookURLs replaces, in given, every URL sent back as MaskWebhookURL shows
// a stored one by that stored URL: the one at the same position when it matches (every
// Slack URL masks alike), else the first not yet kept. A masked URL that matches none is
// left as it is, for validation to refuse.
func KeepMaskedWebhookURLs(stored, given []string) []string {
	out := make([]string, len(given))
	used := make([]bool, len(stored))
	for i, g := range given {
		g = strings.TrimSpace(g)
		out[i] = g
		if !IsMaskedWebhookURL(g) {
			continue
		}
		if i < len(stored) && !used[i] && MaskWebhookURL(stored[i]) == g {
			out[i], used[i] = stored[i], true
			continue
		}
		for j, st := range stored {
			if !used[j] && MaskWebhookURL(st) == g {
				out[i], used[j] = st, true
				break
			}
		}
	}
	return out
}

// AlertSettings returns a workspace's alert settings, the defaults when it never saved
// any, with the activations that have an override.
func (s *Store) AlertSettings(ctx context.Context, workspaceID string) (*AlertSettings, error) {
	return s.alertSettings(s.db.WithContext(ctx), workspaceID)
}

func (s *Store) alertSettings(tx *gorm.DB, workspaceID string) (*AlertSettings, error) {
	out := DefaultAlertSettings(workspaceID)
	var row alertSettingsRow
	err := tx.Where("workspace_id = ?", workspaceID).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
	case err != nil:
		return nil, translate(err)
	default:
		out.Saved, out.UpdatedAt = true, row.UpdatedAt
		out.Thresholds = AlertThresholds{row.SourceIssuesPercent, row.SlowRunFactor, row.AudienceDropPercent}
		out.Recipients, out.Events = []string{}, []string{}
		if err := decodeAlertJSON(row.RecipientsJSON, &out.Recipients); err != nil {
			return nil, err
		}
		if err := decodeAlertJSON(row.EventsJSON, &out.Events); err != nil {
			return nil, err
		}
		if err := decodeAlertJSON(row.RoutingJSON, &out.Routing); err != nil {
			return nil, err
		}
		sealed, err := s.open(alertSealOwner(workspaceID), row.SlackSealed)
		if err != nil {
			return nil, err
		}
		for i := range row.SlackCount {
			if u := sealed[strconv.Itoa(i)]; u != "" {
				out.SlackWebhookURLs = append(out.SlackWebhookURLs, u)
			}
		}
	}
	if out.Overrides, err = s.alertOverrides(tx, workspaceID); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeAlertJSON(raw string, v any) error {
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("models: read alert settings: %w", err)
	}
	return nil
}

func (s *Store) alertOverrides(tx *gorm.DB, workspaceID string) ([]AlertOverride, error) {
	var rows []struct {
		ActivationID        string
		ActivationName      string
		Muted               bool
		ExtraRecipientsJSON string
	}
	err := tx.Table("alert_overrides o").Select("o.activation_id, a.name AS activation_name, o.muted, o.extra_recipients_json").
		Joins("JOIN activations a ON a.id = o.activation_id AND a.workspace_id = o.workspace_id").
		Where("o.workspace_id = ?", workspaceID).Order("a.name, a.id").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]AlertOverride, 0, len(rows))
	for _, r := range rows {
		o := AlertOverride{ActivationID: r.ActivationID, ActivationName: r.ActivationName, Muted: r.Muted, Extra: []string{}}
		if err := decodeAlertJSON(r.ExtraRecipientsJSON, &o.Extra); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// alertAudit is what the audit log keeps of alert settings: Slack URLs masked.
type alertAudit struct {
	Recipients []string            `json:"recipients"`
	Slack      []string            `json:"slack_webhook_urls"`
	Events     []string            `json:"events"`
	Routing    map[string][]string `json:"routing"`
	Thresholds AlertThresholds     `json:"thresholds"`
	Overrides  []AlertOverride     `json:"overrides"`
}

func (a *AlertSettings) audit() alertAudit {
	masked := make([]string, len(a.SlackWebhookURLs))
	for i, u := range a.SlackWebhookURLs {
		masked[i] = MaskWebhookURL(u)
	}
	return alertAudit{a.Recipients, masked, a.Events, a.Routing, a.Thresholds, a.Overrides}
}

// PutAlertSettings replaces a workspace's alert settings (Slack URLs given whole: see
// KeepMaskedWebhookURLs; their hosts are checked by the caller). Overrides replace the
// stored ones when setOverrides is true and are kept otherwise. Every problem is a
// *FieldError naming the field as the API spells it ("email.recipients[2]").
func (s *Store) PutAlertSettings(ctx context.Context, a Actor, in AlertSettings, setOverrides bool) (*AlertSettings, error) {
	var out *AlertSettings
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		before, err := s.alertSettings(tx, a.WorkspaceID)
		if err != nil {
			return err
		}
		users, err := s.userIDs(tx, a.WorkspaceID)
		if err != nil {
			return err
		}
		row := alertSettingsRow{WorkspaceID: a.WorkspaceID, UpdatedAt: s.now()}
		recipients, err := checkRecipients(in.Recipients, users, "email.recipients")
		if err != nil {
			return err
		}
		events, err := checkEvents(in.Events)
		if err != nil {
			return err
		}
		routing, err := checkRouting(in.Routing)
		if err != nil {
			return err
		}
		if err := checkThresholds(in.Thresholds); err != nil {
			return err
		}
		slack, err := checkWebhookURLs(in.SlackWebhookURLs)
		if err != nil {
			return err
		}
		row.SourceIssuesPercent, row.SlowRunFactor, row.AudienceDropPercent = in.Thresholds.SourceIssuesPercent, in.Thresholds.SlowRunFactor, in.Thresholds.AudienceDropPercent
		sealed := map[string]string{}
		for i, u := range slack {
			sealed[strconv.Itoa(i)] = u
		}
		if row.SlackSealed, err = s.seal(alertSealOwner(a.WorkspaceID), sealed); err != nil {
			return err
		}
		row.SlackCount = len(slack)
		for _, v := range []struct {
			dst *string
			val any
		}{{&row.RecipientsJSON, recipients}, {&row.EventsJSON, events}, {&row.RoutingJSON, routing}} {
			raw, err := json.Marshal(v.val)
			if err != nil {
				return err
			}
			*v.dst = string(raw)
		}
		if err := translate(tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error); err != nil {
			return err
		}
		if setOverrides {
			if err := s.replaceAlertOverrides(tx, a.WorkspaceID, in.Overrides, users); err != nil {
				return err
			}
		}
		if out, err = s.alertSettings(tx, a.WorkspaceID); err != nil {
			return err
		}
		return s.record(tx, a, change{"alerts.update", "alerts", a.WorkspaceID, "Alerts", before.audit(), out.audit()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) replaceAlertOverrides(tx *gorm.DB, workspaceID string, in []AlertOverride, users map[string]bool) error {
	seen := map[string]bool{}
	var rows []alertOverrideRow
	for i, o := range in {
		field := fmt.Sprintf("overrides[%d]", i)
		row, err := s.overrideRow(tx, workspaceID, o, users, field)
		if err != nil {
			return err
		}
		if seen[row.ActivationID] {
			return invalid(field+".activation_id", "This activation has another override above.")
		}
		seen[row.ActivationID] = true
		if row.Muted || row.ExtraRecipientsJSON != "[]" {
			rows = append(rows, row)
		}
	}
	if err := tx.Where("workspace_id = ?", workspaceID).Delete(&alertOverrideRow{}).Error; err != nil {
		return translate(err)
	}
	if len(rows) == 0 {
		return nil
	}
	return translate(tx.Create(&rows).Error)
}

func (s *Store) overrideRow(tx *gorm.DB, workspaceID string, o AlertOverride, users map[string]bool, field string) (alertOverrideRow, error) {
	id := strings.TrimSpace(o.ActivationID)
	if id == "" {
		return alertOverrideRow{}, invalid(field+".activation_id", "Choose an activation.")
	}
	var n int64
	if err := tx.Model(&Activation{}).Where("workspace_id = ? AND id = ?", workspaceID, id).Count(&n).Error; err != nil {
		return alertOverrideRow{}, translate(err)
	}
	if n == 0 {
		return alertOverrideRow{}, invalid(field+".activation_id", "There is no such activation in this workspace.")
	}
	extra, err := checkRecipients(o.Extra, users, field+".extra_recipients")
	if err != nil {
		return alertOverrideRow{}, err
	}
	raw, err := json.Marshal(extra)
	if err != nil {
		return alertOverrideRow{}, err
	}
	return alertOverrideRow{WorkspaceID: workspaceID, ActivationID: id, Muted: o.Muted, ExtraRecipientsJSON: string(raw), UpdatedAt: s.now()}, nil
}

// PutAlertOverride sets one activation's override; one that neither mutes nor adds
// anyone is removed. Problems are *FieldError on "muted" or "extra_recipients[i]".
func (s *Store) PutAlertOverride(ctx context.Context, a Actor, o AlertOverride) (*AlertOverride, error) {
	var out AlertOverride
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		act, err := byIDTx[Activation](tx, a.WorkspaceID, o.ActivationID)
		if err != nil {
			return err
		}
		users, err := s.userIDs(tx, a.WorkspaceID)
		if err != nil {
			return err
		}
		row, err := s.overrideRow(tx, a.WorkspaceID, o, users, "")
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Field = strings.TrimPrefix(fe.Field, ".")
			}
			return err
		}
		var before *AlertOverride
		var old alertOverrideRow
		switch err := tx.Where("workspace_id = ? AND activation_id = ?", a.WorkspaceID, act.ID).Take(&old).Error; {
		case errors.Is(err, gorm.ErrRecordNotFound):
		case err != nil:
			return translate(err)
		default:
			b := AlertOverride{ActivationID: act.ID, ActivationName: act.Name, Muted: old.Muted, Extra: []string{}}
			_ = json.Unmarshal([]byte(old.ExtraRecipientsJSON), &b.Extra)
			before = &b
		}
		if err := tx.Where("workspace_id = ? AND activation_id = ?", a.WorkspaceID, act.ID).Delete(&alertOverrideRow{}).Error; err != nil {
			return translate(err)
		}
		out = AlertOverride{ActivationID: act.ID, ActivationName: act.Name, Muted: row.Muted, Extra: []string{}}
		_ = json.Unmarshal([]byte(row.ExtraRecipientsJSON), &out.Extra)
		var after any
		if row.Muted || len(out.Extra) > 0 {
			if err := translate(tx.Create(&row).Error); err != nil {
				return err
			}
			after = out
		}
		var b any
		if before != nil {
			b = before
		}
		return s.record(tx, a, change{"alerts.override", "activation", act.ID, act.Name, b, after})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AlertOverrideFilter pages the override table of Settings → Alerts.
type AlertOverrideFilter struct {
	Search string
	Offset int
	Limit  int
}

// ActivationAlertRows lists the workspace's activations by name, each with its
// override (zero when it has none), one page at a time; total counts every match.
func (s *Store) ActivationAlertRows(ctx context.Context, workspaceID string, f AlertOverrideFilter) (rows []AlertOverride, total int64, err error) {
	q := s.db.WithContext(ctx).Model(&Activation{}).Where("workspace_id = ?", workspaceID)
	if f.Search != "" {
		q = q.Where("LOWER(name) LIKE ?", "%"+strings.ToLower(f.Search)+"%")
	}
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 20
	}
	var acts []Activation
	if err := q.Order("name, id").Offset(max(f.Offset, 0)).Limit(f.Limit).Find(&acts).Error; err != nil {
		return nil, 0, translate(err)
	}
	ids := make([]string, len(acts))
	for i, a := range acts {
		ids[i] = a.ID
	}
	var stored []alertOverrideRow
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Where("workspace_id = ? AND activation_id IN ?", workspaceID, ids).Find(&stored).Error; err != nil {
			return nil, 0, translate(err)
		}
	}
	for _, a := range acts {
		o := AlertOverride{ActivationID: a.ID, ActivationName: a.Name, Extra: []string{}}
		if i := slices.IndexFunc(stored, func(r alertOverrideRow) bool { return r.ActivationID == a.ID }); i >= 0 {
			o.Muted = stored[i].Muted
			_ = json.Unmarshal([]byte(stored[i].ExtraRecipientsJSON), &o.Extra)
		}
		rows = append(rows, o)
	}
	return rows, total, nil
}

func byIDTx[T any](tx *gorm.DB, workspaceID, id string) (*T, error) {
	var v T
	if err := tx.Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&v).Error; err != nil {
		return nil, translate(err)
	}
	return &v, nil
}

func (s *Store) userIDs(tx *gorm.DB, workspaceID string) (map[string]bool, error) {
	var ids []string
	if err := tx.Model(&User{}).Where("workspace_id = ?", workspaceID).Pluck("id", &ids).Error; err != nil {
		return nil, translate(err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// checkRecipients trims, checks and de-duplicates recipients: a user id of the
// workspace, or an e-mail address (lower-cased, no display name).
func checkRecipients(in []string, users map[string]bool, field string) ([]string, error) {
	if len(in) > maxAlertRecipients {
		return nil, invalid(field, fmt.Sprintf("Keep it to %d recipients or fewer.", maxAlertRecipients))
	}
	out := []string{}
	for i, r := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			return nil, invalid(f, "Enter an e-mail address or pick a user.")
		case users[r]:
		case len(r) > maxAddress:
			return nil, invalid(f, "This e-mail address is too long.")
		default:
			addr, err := mail.ParseAddress(r)
			if err != nil || addr.Name != "" || addr.Address != r || !strings.Contains(r[strings.LastIndex(r, "@"):], ".") {
				return nil, invalid(f, "This is not an e-mail address.")
			}
			r = strings.ToLower(r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func checkEvents(in []string) ([]string, error) {
	out := []string{}
	for i, e := range in {
		e = strings.TrimSpace(e)
		if !slices.ContainsFunc(AlertEvents, func(k AlertEvent) bool { return k.Code == e }) {
			return nil, invalid(fmt.Sprintf("events[%d]", i), "Sluice has no such event.")
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	// Keep the page's order, whatever the order given.
	slices.SortFunc(out, func(a, b string) int {
		return slices.IndexFunc(AlertEvents, func(k AlertEvent) bool { return k.Code == a }) -
			slices.IndexFunc(AlertEvents, func(k AlertEvent) bool { return k.Code == b })
	})
	return out, nil
}

func checkRouting(in map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.ContainsFunc(AlertCategories, func(c AlertEvent) bool { return c.Code == k }) {
			return nil, invalid("routing."+k, "This is not an error category.")
		}
		targets := []string{}
		for j, t := range in[k] {
			t = strings.TrimSpace(t)
			if !slices.ContainsFunc(AlertTargets, func(c AlertEvent) bool { return c.Code == t }) {
				return nil, invalid(fmt.Sprintf("routing.%s[%d]", k, j), "Send alerts to recipients, admins, creator or slack.")
			}
			if !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
		if len(targets) > 0 {
			out[k] = targets
		}
	}
	return out, nil
}

func checkThresholds(t AlertThresholds) error {
	switch {
	case t.SourceIssuesPercent < 0 || t.SourceIssuesPercent > 100:
		return invalid("thresholds.source_issues_percent", "Enter a percentage from 1 to 100, or 0 for no threshold.")
	case t.SlowRunFactor < 0 || t.SlowRunFactor == 1 || t.SlowRunFactor > 100:
		return invalid("thresholds.slow_run_factor", "Enter how many times slower, from 2 to 100, or 0 for no threshold.")
	case t.AudienceDropPercent < 0 || t.AudienceDropPercent > 100:
		return invalid("thresholds.audience_drop_percent", "Enter a percentage from 1 to 100, or 0 for no threshold.")
	}
	return nil
}

// checkWebhookURLs checks each URL's shape: whole, https, a host, no user info. Whether
// the host is public is the caller's check (it resolves names).
func checkWebhookURLs(in []string) ([]string, error) {
	if len(in) > maxSlackWebhooks {
		return nil, invalid("slack.webhook_urls", fmt.Sprintf("Keep it to %d Slack webhooks or fewer.", maxSlackWebhooks))
	}
	out := []string{}
	for i, raw := range in {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if msg := WebhookURLProblem(raw); msg != "" {
			return nil, invalid(fmt.Sprintf("slack.webhook_urls[%d]", i), msg)
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}

// WebhookURLProblem says, in words for the user, what is wrong with a webhook URL's
// shape, or "".
func WebhookURLProblem(raw string) string {
	if IsMaskedWebhookURL(raw) {
		return "Paste the whole webhook URL: this one is hidden and matches none saved."
	}
	if len(raw) > maxWebhookURL {
		return "This URL is too long."
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return "Enter the whole webhook URL, starting with https://."
	case u.Scheme != "https":
		return "The webhook URL must start with https://."
	case u.User != nil:
		return "The webhook URL must not hold a user name or password."
	}
	return ""
}
