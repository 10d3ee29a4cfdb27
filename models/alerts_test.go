package models_test

import (
	"slices"
	"strings"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

const slackURL = "https://hooks.slack.com/services/T0001/B0002/s3cretTok3n"

func TestAlertSettingsDefaultsThenPutAndGet(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		admin, a := testutil.Admin(t, s)
		def, err := s.AlertSettings(ctx, a.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if def.Saved || len(def.Events) != len(models.AlertEvents) || len(def.Recipients) != 0 {
			t.Fatalf("defaults = %+v, want every event, no recipient, not saved", def)
		}
		ids := activations(t, s, a, 2)
		in := models.AlertSettings{
			Recipients:       []string{admin.ID, " Ops@Example.com ", "ops@example.com"},
			SlackWebhookURLs: []string{slackURL},
			Events:           []string{models.EventThresholdPassed, models.EventRunFailed},
			Routing:          map[string][]string{"credentials": {"admins"}, "all": {"slack", "recipients"}},
			Thresholds:       models.AlertThresholds{SourceIssuesPercent: 5, SlowRunFactor: 3, AudienceDropPercent: 50},
			Overrides:        []models.AlertOverride{{ActivationID: ids[1], Muted: true}, {ActivationID: ids[0], Extra: []string{"cmo@example.com"}}},
		}
		if _, err := s.PutAlertSettings(ctx, a, in, true); err != nil {
			t.Fatal(err)
		}
		got, err := s.AlertSettings(ctx, a.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Recipients, []string{admin.ID, "ops@example.com"}) {
			t.Errorf("recipients = %v", got.Recipients)
		}
		if !slices.Equal(got.Events, []string{models.EventRunFailed, models.EventThresholdPassed}) {
			t.Errorf("events = %v, want the page's order", got.Events)
		}
		if !slices.Equal(got.SlackWebhookURLs, []string{slackURL}) {
			t.Errorf("slack = %v", got.SlackWebhookURLs)
		}
		if got.Thresholds != in.Thresholds || len(got.Routing) != 2 || !got.Saved {
			t.Errorf("settings = %+v", got)
		}
		if len(got.Overrides) != 2 || got.Overrides[0].ActivationName != "A0" || got.Overrides[0].Extra[0] != "cmo@example.com" || !got.Overrides[1].Muted {
			t.Errorf("overrides = %+v", got.Overrides)
		}

		// The Slack URL is sealed: the table holds it nowhere in clear, nor does the audit log.
		for _, row := range rowText(t, s, "SELECT * FROM alert_settings") {
			if strings.Contains(row, "s3cretTok3n") {
				t.Fatalf("Slack URL stored in clear: %s", row)
			}
		}
		e := latestEntry(t, s, a.WorkspaceID)
		after := ""
		if e.AfterJSON != nil {
			after = *e.AfterJSON
		}
		if e.Action != "alerts.update" || strings.Contains(after, "s3cretTok3n") || !strings.Contains(after, "https://hooks.slack.com/services/***") {
			t.Errorf("audit entry = %s %s", e.Action, after)
		}

		// Without setOverrides the overrides are kept.
		in.Overrides = nil
		if _, err := s.PutAlertSettings(ctx, a, in, false); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.AlertSettings(ctx, a.WorkspaceID); len(got.Overrides) != 2 {
			t.Errorf("overrides after a put without them = %+v", got.Overrides)
		}

		// Another workspace sees its own defaults.
		_, other := otherWorkspace(t, s)
		theirs, err := s.AlertSettings(ctx, other.WorkspaceID)
		if err != nil {
			t.Fatal(err)
		}
		if theirs.Saved || len(theirs.SlackWebhookURLs) != 0 || len(theirs.Overrides) != 0 {
			t.Errorf("another workspace sees %+v", theirs)
		}
		// …and cannot name this workspace's users or activations.
		_, err = s.PutAlertSettings(ctx, other, models.AlertSettings{Recipients: []string{admin.ID}}, false)
		wantField(t, err, "email.recipients[0]")
		_, err = s.PutAlertSettings(ctx, other, models.AlertSettings{Overrides: []models.AlertOverride{{ActivationID: ids[0], Muted: true}}}, true)
		wantField(t, err, "overrides[0].activation_id")
		_, err = s.PutAlertOverride(ctx, other, models.AlertOverride{ActivationID: ids[0], Muted: true})
		if !models.IsNotFound(err) {
			t.Errorf("override of another workspace's activation: err = %v, want not found", err)
		}
	})
}

func TestAlertSettingsValidation(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		for _, c := range []struct {
			in    models.AlertSettings
			field string
		}{
			{models.AlertSettings{Recipients: []string{"a@example.com", "b@example.com", "not-an-address"}}, "email.recipients[2]"},
			{models.AlertSettings{Recipients: []string{"Ops <ops@example.com>"}}, "email.recipients[0]"},
			{models.AlertSettings{Recipients: []string{""}}, "email.recipients[0]"},
			{models.AlertSettings{Events: []string{"run_failed", "world_ended"}}, "events[1]"},
			{models.AlertSettings{Routing: map[string][]string{"weather": {"admins"}}}, "routing.weather"},
			{models.AlertSettings{Routing: map[string][]string{"credentials": {"admins", "the boss"}}}, "routing.credentials[1]"},
			{models.AlertSettings{Thresholds: models.AlertThresholds{SourceIssuesPercent: 101}}, "thresholds.source_issues_percent"},
			{models.AlertSettings{Thresholds: models.AlertThresholds{SlowRunFactor: 1}}, "thresholds.slow_run_factor"},
			{models.AlertSettings{Thresholds: models.AlertThresholds{AudienceDropPercent: -1}}, "thresholds.audience_drop_percent"},
			{models.AlertSettings{SlackWebhookURLs: []string{"http://hooks.slack.com/services/x/y"}}, "slack.webhook_urls[0]"},
			{models.AlertSettings{SlackWebhookURLs: []string{slackURL, "https://hooks.slack.com/services/***"}}, "slack.webhook_urls[1]"},
			{models.AlertSettings{Overrides: []models.AlertOverride{{ActivationID: "nope"}}}, "overrides[0].activation_id"},
		} {
			_, err := s.PutAlertSettings(ctx, a, c.in, true)
			wantField(t, err, c.field)
		}
		if got, _ := s.AlertSettings(ctx, a.WorkspaceID); got.Saved {
			t.Error("a refused put saved settings")
		}
	})
}

func TestAlertOverridePagesAndClears(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, a := testutil.Admin(t, s)
		ids := activations(t, s, a, 25)
		if _, err := s.PutAlertOverride(ctx, a, models.AlertOverride{ActivationID: ids[3], Extra: []string{"x@example.com", "nope"}}); err == nil {
			t.Fatal("a bad extra recipient was saved")
		} else {
			wantField(t, err, "extra_recipients[1]")
		}
		if _, err := s.PutAlertOverride(ctx, a, models.AlertOverride{ActivationID: ids[3], Muted: true}); err != nil {
			t.Fatal(err)
		}
		rows, total, err := s.ActivationAlertRows(ctx, a.WorkspaceID, models.AlertOverrideFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if total != 25 || len(rows) != 10 {
			t.Fatalf("total %d, rows %d; want 25 and a page of 10", total, len(rows))
		}
		rows, total, _ = s.ActivationAlertRows(ctx, a.WorkspaceID, models.AlertOverrideFilter{Search: "a3"})
		if total != 1 || !rows[0].Muted {
			t.Fatalf("search a3: total %d, rows %+v", total, rows)
		}
		// An override that neither mutes nor adds anyone is removed.
		if _, err := s.PutAlertOverride(ctx, a, models.AlertOverride{ActivationID: ids[3]}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.AlertSettings(ctx, a.WorkspaceID); len(got.Overrides) != 0 {
			t.Errorf("overrides = %+v, want none", got.Overrides)
		}
		if e := latestEntry(t, s, a.WorkspaceID); e.Action != "alerts.override" {
			t.Errorf("audit action = %s", e.Action)
		}
	})
}

func TestMaskWebhookURL(t *testing.T) {
	for raw, want := range map[string]string{
		slackURL:                          "https://hooks.slack.com/services/***",
		"https://example.com/only-secret": "https://example.com/***",
		"https://u:p@example.com/a/b?k=v": "https://example.com/a/***",
		"not a url":                       "***",
	} {
		if got := models.MaskWebhookURL(raw); got != want {
			t.Errorf("MaskWebhookURL(%q) = %q, want %q", raw, got, want)
		}
	}
	stored := []string{slackURL, "https://hooks.slack.com/services/T9/B9/other"}
	mask := "https://hooks.slack.com/services/***"
	if got := models.KeepMaskedWebhookURLs(stored, []string{mask, mask}); !slices.Equal(got, stored) {
		t.Errorf("kept = %v", got)
	}
	if got := models.KeepMaskedWebhookURLs(stored[:1], []string{mask, mask}); got[1] != mask {
		t.Errorf("a second mask with one stored URL = %v, want left masked", got)
	}
}
