package models

import (
	"errors"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// No schedule may fire twice less than a minute apart, whatever its kind; the refusal
// names the field at fault. Next refuses the same schedules, so one saved before the
// rule existed never ticks.
func TestScheduleMinimumGap(t *testing.T) {
	cases := []struct {
		sc    Schedule
		field string // "" when accepted
	}{
		{Schedule{Kind: "interval", Every: "1m"}, ""},
		{Schedule{Kind: "interval", Every: "90s"}, ""},
		{Schedule{Kind: "interval", Every: "59s"}, "schedule.every"},
		{Schedule{Kind: "interval", Every: "1s"}, "schedule.every"},
		{Schedule{Kind: "interval", Every: "-5m"}, "schedule.every"},
		{Schedule{Kind: "cron", Expr: "* * * * *"}, ""},
		{Schedule{Kind: "cron", Expr: "*/5 * * * *"}, ""},
		{Schedule{Kind: "cron", Expr: "@hourly"}, ""},
		{Schedule{Kind: "cron", Expr: "@every 1m"}, ""},
		{Schedule{Kind: "cron", Expr: "@every 60s"}, ""},
		{Schedule{Kind: "cron", Expr: "@every 1h30m"}, ""},
		{Schedule{Kind: "cron", Expr: "CRON_TZ=Europe/Paris 0 6 * * *"}, ""},
		{Schedule{Kind: "cron", Expr: "@every 1s"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "@every 30s"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "@every 59s"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "@every 59.999s"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "@every 100ms"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "@every -1h"}, "schedule.expr"},
		{Schedule{Kind: "cron", Expr: "* * * * * *"}, "schedule.expr"}, // no seconds field
		{Schedule{Kind: "cron", Expr: "*/10 * * * * *"}, "schedule.expr"},
		{Schedule{Kind: "daily", At: "06:00"}, ""},
		{Schedule{Kind: "weekly", At: "06:00", Weekday: "monday"}, ""},
	}
	at := time.Date(2026, 11, 28, 18, 39, 30, 0, time.UTC)
	for _, c := range cases {
		err := c.sc.Check()
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v refused: %v", c.sc, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%+v: error %v, want one on %s", c.sc, err, c.field)
		case c.field != "" && (fe.Message == "" || fe.Message == err.Error()):
			t.Errorf("%+v: message %q", c.sc, fe.Message)
		}
		next, err := c.sc.Next(at)
		if c.field == "" && (err != nil || next.Sub(at) <= 0) {
			t.Errorf("Next(%+v) = %v, %v", c.sc, next, err)
		}
		if c.field != "" && err == nil {
			t.Errorf("Next(%+v) = %v, want an error", c.sc, next)
		}
		if c.field == "" {
			// The rule itself: two consecutive runs are at least a minute apart.
			after, err := c.sc.Next(next)
			if err != nil || after.Sub(next) < MinGap {
				t.Errorf("%+v runs at %v then %v (%v)", c.sc, next, after, err)
			}
		}
	}
	if tooOften(cron.Every(time.Minute)) || !tooOften(cron.Every(time.Second)) || !tooOften(&cron.SpecSchedule{Second: 1<<0 | 1<<30}) {
		t.Error("tooOften misjudges a schedule built by hand")
	}
}
