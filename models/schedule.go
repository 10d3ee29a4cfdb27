package models

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinGap is the shortest time allowed between two consecutive scheduled runs of an
// activation, whatever the kind of schedule: an interval, a cron expression or an
// @every descriptor. More often than that, runs would only queue behind one another.
const MinGap = time.Minute

// errTooOften refuses a cron schedule that can fire twice less than MinGap apart.
var errTooOften = errors.New("models: schedule fires more often than once a minute")

// parseCron reads a cron expression as Sluice accepts it: five fields (minute hour
// day-of-month month weekday) or a descriptor (@hourly, @every 30m), never firing twice
// less than MinGap apart.
func parseCron(expr string) (cron.Schedule, error) {
	// The parser slices a TZ= or CRON_TZ= prefix up to the first space and panics when
	// there is none: a time zone alone is no schedule.
	if (strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=")) && !strings.Contains(expr, " ") {
		return nil, errors.New("models: a cron time zone without an expression")
	}
	spec, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, err
	}
	if tooOften(spec) {
		return nil, errTooOften
	}
	return spec, nil
}

// tooOften reports whether a parsed cron schedule can fire twice less than MinGap
// apart. @every fires every Delay (a negative or sub-second duration parses as one
// second); a field expression fires at most once a minute unless its seconds field
// holds more than one second (the standard parser fixes it at 0, so only another
// parser could get there). A schedule of another type is refused rather than guessed.
func tooOften(spec cron.Schedule) bool {
	switch s := spec.(type) {
	case cron.ConstantDelaySchedule:
		return s.Delay < MinGap
	case *cron.ConstantDelaySchedule:
		return s.Delay < MinGap
	case *cron.SpecSchedule:
		return bits.OnesCount64(s.Second&^(1<<63)) > 1 // bit 63 marks a "*" field
	}
	return true
}

// Next is when a schedule fires next after t; the zero time for manual schedules.
func (sc Schedule) Next(after time.Time) (time.Time, error) {
	p := compiledSchedules.get(sc, compileSchedule)
	switch {
	case p.err != nil:
		return time.Time{}, p.err
	case p.every > 0:
		// Intervals are aligned on the epoch, so every instance computes the same ticks.
		return after.Truncate(p.every).Add(p.every).UTC(), nil
	case p.spec == nil:
		return time.Time{}, nil
	}
	return p.spec.Next(after.In(p.loc)).UTC(), nil
}

// compiledSchedule is a schedule parsed: its time zone and cron expression, or its
// interval. Reading a time zone opens a file, and the scheduler and the lists ask for
// the next tick of every activation often.
type compiledSchedule struct {
	loc   *time.Location
	spec  cron.Schedule // nil for manual and interval schedules
	every time.Duration // an interval schedule's
	err   error
}

var compiledSchedules memo[Schedule, compiledSchedule]

func compileSchedule(sc Schedule) compiledSchedule {
	p := compiledSchedule{loc: time.UTC}
	if sc.Timezone != "" {
		if p.loc, p.err = time.LoadLocation(sc.Timezone); p.err != nil {
			return p
		}
	}
	switch sc.Kind {
	case "", "manual":
	case "interval":
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			p.err = fmt.Errorf("models: bad interval %q", sc.Every)
		}
		p.every = d
	case "daily", "weekly":
		at, err := time.Parse("15:04", sc.At)
		if err != nil {
			p.err = err
			return p
		}
		expr := fmt.Sprintf("%d %d * * *", at.Minute(), at.Hour())
		if sc.Kind == "weekly" {
			wd, ok := weekdays[strings.ToLower(sc.Weekday)]
			if !ok {
				p.err = fmt.Errorf("models: bad weekday %q", sc.Weekday)
				return p
			}
			expr = fmt.Sprintf("%d %d * * %d", at.Minute(), at.Hour(), wd)
		}
		p.spec, p.err = cron.ParseStandard(expr)
	case "cron":
		// A schedule saved before the minimum was enforced does not tick either.
		p.spec, p.err = parseCron(sc.Expr)
	default:
		p.err = fmt.Errorf("models: unknown schedule kind %q", sc.Kind)
	}
	return p
}

// LatestDue is the last tick after from and no later than now (zero if none). Only the
// last week is searched: a tick older than that was missed long ago and runs as the
// latest one anyway.
func (sc Schedule) LatestDue(from, now time.Time) (time.Time, error) {
	if sc.Kind == "interval" {
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			return time.Time{}, fmt.Errorf("models: bad interval %q", sc.Every)
		}
		due := now.Truncate(d).UTC()
		if !due.After(from) {
			return time.Time{}, nil
		}
		return due, nil
	}
	if week := now.Add(-8 * 24 * time.Hour); from.Before(week) {
		from = week
	}
	var due time.Time
	for t := from; ; {
		next, err := sc.Next(t)
		if err != nil || next.IsZero() || next.After(now) {
			return due, err
		}
		due, t = next, next
	}
}

// NextRun is when an activation runs next on its schedule: nil when it is manual or
// paused.
func (a *Activation) NextRun(now time.Time) *time.Time {
	_, next := a.ScheduleAndNext(now)
	return next
}

// ScheduleAndNext is the activation's Schedule and its NextRun, its settings decoded
// once (lists show both for every row).
func (a *Activation) ScheduleAndNext(now time.Time) (Schedule, *time.Time) {
	sc := a.Schedule()
	if a.Status != ActivationActive {
		return sc, nil
	}
	t, err := sc.Next(now)
	if err != nil || t.IsZero() {
		return sc, nil
	}
	return sc, &t
}

// Describe says a schedule in words: "Every 30m", "Daily at 06:00 (Europe/Paris)".
func (sc Schedule) Describe() string {
	tz := ""
	if sc.Timezone != "" && sc.Timezone != "UTC" {
		tz = " (" + sc.Timezone + ")"
	} else if sc.Kind == "daily" || sc.Kind == "weekly" || sc.Kind == "cron" {
		tz = " UTC"
	}
	switch sc.Kind {
	case "interval":
		return "Every " + sc.Every
	case "daily":
		return "Daily at " + sc.At + tz
	case "weekly":
		if sc.Weekday != "" {
			return "Weekly, " + strings.ToUpper(sc.Weekday[:1]) + sc.Weekday[1:] + " at " + sc.At + tz
		}
		return "Weekly at " + sc.At + tz
	case "cron":
		return "Cron " + sc.Expr + tz
	}
	return "Manual"
}

// Check accepts the schedules of API.md, each with its fields well formed; a problem is
// a *FieldError on "schedule.<field>".
func (sc Schedule) Check() error {
	bad := func(field, msg string) error { return &FieldError{Field: "schedule." + field, Message: msg} }
	if sc.Timezone != "" {
		if _, err := time.LoadLocation(sc.Timezone); err != nil {
			return bad("timezone", fmt.Sprintf("%q is not a time zone; use a name like Europe/Paris or UTC.", sc.Timezone))
		}
	}
	switch sc.Kind {
	case "", "manual":
	case "interval":
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			return bad("every", "Give an interval of at least a minute, like 30m or 6h.")
		}
	case "daily", "weekly":
		if _, err := time.Parse("15:04", sc.At); err != nil {
			return bad("at", "Give a time of day as HH:MM, like 06:00.")
		}
		if sc.Kind == "weekly" {
			if _, ok := weekdays[strings.ToLower(sc.Weekday)]; !ok {
				return bad("weekday", "Give a day of the week, like monday.")
			}
		}
	case "cron":
		spec, err := parseCron(sc.Expr)
		switch {
		case errors.Is(err, errTooOften):
			return bad("expr", "This cron expression runs more often than once a minute, which Sluice does not allow. Give @every a duration of at least 1m, like @every 30m.")
		case err != nil:
			return bad("expr", "This is not a cron expression. Give five fields (minute hour day-of-month month weekday), like 0 6 * * *, or a shortcut like @hourly or @every 30m.")
		case spec.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero():
			// The parser takes days no month has (0 0 30 2 *): such a schedule would be
			// saved and never run. The library looks five years ahead, and the five
			// from 2000 hold every day of every month, February 29 included.
			return bad("expr", "This cron expression never runs: no month it names has that day (like February 30). Check its day-of-month and month fields.")
		}
	default:
		return bad("kind", "Schedule kind must be manual, interval, daily, weekly or cron.")
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}
