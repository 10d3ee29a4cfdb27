package models

import (
	"errors"
	"testing"
	"time"
)

// FuzzSchedule reads arbitrary schedule JSON as an activation stores it: nothing
// panics, a refusal is a *FieldError on a schedule field, and a schedule Check accepts
// ticks — each next tick after the one before and at least MinGap later.
func FuzzSchedule(f *testing.F) {
	seeds := []string{
		`{"kind":"interval","every":"30m"}`, `{"kind":"interval","every":"6h"}`, `{"kind":"interval","every":"1m"}`,
		`{"kind":"interval","every":"90s"}`, `{"kind":"interval","every":"59s"}`, `{"kind":"interval","every":"-5m"}`,
		`{"kind":"interval","every":"2562047h"}`,
		`{"kind":"daily","at":"06:00","timezone":"Europe/Paris"}`, `{"kind":"daily","at":"02:30","timezone":"America/New_York"}`,
		`{"kind":"weekly","at":"09:15","weekday":"monday","timezone":"UTC"}`, `{"kind":"weekly","at":"09:15","weekday":"Funday"}`,
		`{"kind":"cron","expr":"0 */2 * * *","timezone":"UTC"}`, `{"kind":"cron","expr":"every day"}`,
		`{"kind":"cron","expr":"* * * * *","timezone":"Australia/Lord_Howe"}`, `{"kind":"cron","expr":"*/5 * * * *"}`,
		`{"kind":"cron","expr":"@hourly"}`, `{"kind":"cron","expr":"@every 1h30m"}`, `{"kind":"cron","expr":"@every 59.999s"}`,
		`{"kind":"cron","expr":"CRON_TZ=Europe/Paris 0 6 * * *"}`, `{"kind":"cron","expr":"*/10 * * * * *"}`,
		`{"kind":"cron","expr":"0 0 30 2 *"}`, `{"kind":"cron","expr":"TZ=UTC"}`,
		`{"kind":"manual"}`, `{}`, `null`, `[]`, `{"kind":"hourly"}`, `{"kind":"daily","at":"24:00"}`,
		`{"kind":"daily","at":"06:00","timezone":"Not/AZone"}`, `{"kind":"daily","at":"06:00","timezone":"Local"}`,
	}
	for i, s := range seeds {
		f.Add(s, int64(1_700_000_000+i*7919))
	}
	f.Fuzz(func(t *testing.T, doc string, unix int64) {
		a := Activation{ScheduleJSON: doc, Status: ActivationActive}
		sc := a.Schedule()
		_ = sc.Describe()
		if err := sc.Check(); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || len(fe.Field) <= len("schedule.") || fe.Field[:len("schedule.")] != "schedule." || fe.Message == "" {
				t.Fatalf("Check(%+v) = %v, want a *FieldError on a schedule field", sc, err)
			}
			return
		}
		// Any moment from 2000 to 2090: zones' rules before 1972 moved clocks by seconds,
		// which no schedule of minutes can honour, and the cron library looks only five
		// years ahead, so February 29 has no tick in sight from 2096 to 2099.
		const from, span = 946_684_800, 90 * 365 * 24 * 3600
		at := time.Unix(from+(unix%span+span)%span, 0).UTC()
		prev := at
		for i := range 5 {
			next, err := sc.Next(prev)
			switch {
			case err != nil:
				t.Fatalf("%+v was accepted but Next(%v) fails: %v", sc, prev, err)
			case next.IsZero() && (sc.Kind == "manual" || sc.Kind == ""):
				return
			case next.IsZero():
				t.Fatalf("%+v was accepted but never ticks after %v", sc, prev)
			case !next.After(prev):
				t.Fatalf("%+v: tick %d at %v is not after %v", sc, i, next, prev)
			case i > 0 && next.Sub(prev) < MinGap:
				t.Fatalf("%+v: ticks %v and %v are %v apart", sc, prev, next, next.Sub(prev))
			}
			prev = next
		}
		if a.NextRun(at) == nil {
			t.Fatalf("%+v ticks but NextRun(%v) is nil", sc, at)
		}
	})
}

// A cron expression that is only a time zone prefix made the cron parser panic (found
// by FuzzSchedule): Check refuses it on its field and Next returns an error.
func TestCronTimeZoneWithoutExpression(t *testing.T) {
	at := time.Date(2026, 11, 28, 18, 39, 30, 0, time.UTC)
	for _, expr := range []string{"TZ=UTC", "CRON_TZ=Europe/Paris", "TZ=", "CRON_TZ=\t0 6 * * *"} {
		sc := Schedule{Kind: "cron", Expr: expr}
		var fe *FieldError
		if err := sc.Check(); !errors.As(err, &fe) || fe.Field != "schedule.expr" {
			t.Errorf("Check(%q) = %v, want a refusal on schedule.expr", expr, err)
		}
		if next, err := sc.Next(at); err == nil {
			t.Errorf("Next(%q) = %v, want an error", expr, next)
		}
	}
	// With an expression after it, the prefix still works.
	if err := (Schedule{Kind: "cron", Expr: "CRON_TZ=Europe/Paris 0 6 * * *"}).Check(); err != nil {
		t.Errorf("a prefixed expression was refused: %v", err)
	}
}

// A cron expression on a day no month has (February 30) never ticks; Check refused
// nothing of it (found by FuzzSchedule) and the activation saved would never run.
func TestCronThatNeverRunsRefused(t *testing.T) {
	for _, expr := range []string{"0 0 30 2 *", "0 6 31 4,6,9,11 *", "CRON_TZ=Europe/Paris 15 * 31 11 *"} {
		var fe *FieldError
		if err := (Schedule{Kind: "cron", Expr: expr}).Check(); !errors.As(err, &fe) || fe.Field != "schedule.expr" {
			t.Errorf("Check(%q) = %v, want a refusal on schedule.expr", expr, err)
		}
	}
	// Rare days that exist are fine, and so is a weekday that lifts the day's limit
	// (cron reads day-of-month and weekday as either).
	for _, expr := range []string{"0 0 29 2 *", "0 0 31 12 *", "0 0 30 2 1"} {
		if err := (Schedule{Kind: "cron", Expr: expr}).Check(); err != nil {
			t.Errorf("Check(%q): %v", expr, err)
		}
	}
}
