package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

// No schedule may run twice less than a minute apart: an @every cron under a minute is
// refused like a short interval, with 422 naming the schedule field, on create and on
// update.
func TestAPIActivationScheduleMinimum(t *testing.T) {
	t.Parallel()
	s := newDLSetup(t)
	editor := s.admin.as(s.editor)
	refused := func(r *response, field string) {
		t.Helper()
		r.want(t, http.StatusUnprocessableEntity)
		e := into[apiErr](t, r)
		if e.Error.Code != "invalid" || e.Error.Field != field || !strings.Contains(e.Error.Message, "minute") {
			t.Errorf("error %+v, want one on %s about a minute", e.Error, field)
		}
	}
	with := func(sc map[string]any) map[string]any {
		in := s.activationInput("Too often")
		in["schedule"] = sc
		return in
	}
	for _, expr := range []string{"@every 1s", "@every 30s", "@every 59s", "@every -1h"} {
		refused(editor.post("/activations", with(map[string]any{"kind": "cron", "expr": expr, "timezone": "UTC"})), "schedule.expr")
	}
	refused(editor.post("/activations", with(map[string]any{"kind": "interval", "every": "30s"})), "schedule.every")

	a := s.activation(t, "Hourly")
	refused(editor.patch("/activations/"+a.ID, map[string]any{"schedule": map[string]any{"kind": "cron", "expr": "@every 1s"}}), "schedule.expr")
	editor.patch("/activations/"+a.ID, map[string]any{"schedule": map[string]any{"kind": "cron", "expr": "@every 1m"}}).want(t, http.StatusOK)
	editor.post("/activations", with(map[string]any{"kind": "cron", "expr": "* * * * *", "timezone": "UTC"})).want(t, http.StatusCreated)
}

// The wizard refuses the same schedules on Next and on Create, beside the cron field.
func TestWizardRefusesSubMinuteCron(t *testing.T) {
	t.Parallel()
	s := newWizardSetup(t)
	ok := s.draft("schedule", s.everyone.ID, s.webhook.ID, "sync_records", "email:email:email")
	for _, form := range []map[string]string{
		{"schedule_kind": "cron", "expr": "@every 1s", "go": "next"},
		{"schedule_kind": "cron", "expr": "@every 59s", "go": "next"},
		{"step": "review", "schedule_kind": "cron", "expr": "@every 30s", "go": "create"},
	} {
		v := with(ok)
		for k, val := range form {
			v.Set(k, val)
		}
		r := s.browser.post("/activations", v).want(t, http.StatusUnprocessableEntity)
		if r.Count(t, "[data-step=schedule]") != 1 {
			t.Fatalf("%v: the answer should be the schedule step", form)
		}
		if msg := r.Text(t, `[data-testid="error-schedule.expr"]`); !strings.Contains(msg, "once a minute") {
			t.Errorf("%v: error %q beside the cron field", form, msg)
		}
	}
}
