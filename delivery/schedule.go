package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"sluice/models"
)

// MinGap is the shortest time allowed between two consecutive scheduled runs of an
// activation, whatever the kind of schedule: an interval, a cron expression or an
// @every descriptor. More often than that, runs would only queue behind one another.
const MinGap = time.Minute

// errTooOften refuses a cron schedule that can fire twice less than MinGap apart.
var errTooOften = errors.New("delivery: schedule fires more often than once a minute")

// parseCron reads a cron expression as Sluice accepts it: five fields (minute hour
// day-of-month month weekday) or a descriptor (@hourly, @every 30m), never firing twice
// less than MinGap apart.
func parseCron(expr string) (cron.Schedule, error) {
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
func Next(sc models.Schedule, after time.Time) (time.Time, error) {
	loc := time.UTC
	if sc.Timezone != "" {
		l, err := time.LoadLocation(sc.Timezone)
		if err != nil {
			return time.Time{}, err
		}
		loc = l
	}
	var spec cron.Schedule
	switch sc.Kind {
	case "", "manual":
		return time.Time{}, nil
	case "interval":
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			return time.Time{}, fmt.Errorf("delivery: bad interval %q", sc.Every)
		}
		// Intervals are aligned on the epoch, so every instance computes the same ticks.
		return after.Truncate(d).Add(d).UTC(), nil
	case "daily", "weekly":
		at, err := time.Parse("15:04", sc.At)
		if err != nil {
			return time.Time{}, err
		}
		expr := fmt.Sprintf("%d %d * * *", at.Minute(), at.Hour())
		if sc.Kind == "weekly" {
			wd, ok := weekdays[strings.ToLower(sc.Weekday)]
			if !ok {
				return time.Time{}, fmt.Errorf("delivery: bad weekday %q", sc.Weekday)
			}
			expr = fmt.Sprintf("%d %d * * %d", at.Minute(), at.Hour(), wd)
		}
		if spec, err = cron.ParseStandard(expr); err != nil {
			return time.Time{}, err
		}
	case "cron":
		// A schedule saved before the minimum was enforced does not tick either.
		var err error
		if spec, err = parseCron(sc.Expr); err != nil {
			return time.Time{}, err
		}
	default:
		return time.Time{}, fmt.Errorf("delivery: unknown schedule kind %q", sc.Kind)
	}
	return spec.Next(after.In(loc)).UTC(), nil
}

// Tick enqueues the runs that are due at now: for each active scheduled activation, the
// latest tick since its last scheduled run. Ticks missed while every instance was down
// run once, not once per tick. The run's unique (activation, scheduled_for) key makes
// ticks of several instances collapse into one run.
func (s *Service) Tick(ctx context.Context, now time.Time) (int, error) {
	acts, err := s.store.ScheduledActivations(ctx)
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, a := range acts {
		sc := a.Schedule()
		last, err := s.store.LastScheduledFor(ctx, a.ID)
		if err != nil {
			return queued, err
		}
		from := a.CreatedAt
		if last != nil {
			from = *last
		}
		due, err := latestDue(sc, from, now)
		if err != nil {
			s.log.Warn("bad schedule", slog.String("activation_id", a.ID), slog.Any("error", err))
			continue
		}
		if due.IsZero() {
			continue
		}
		if _, err := s.store.EnqueueRun(ctx, a.WorkspaceID, a.ID, models.TriggerSchedule, &due, false); err != nil {
			if errors.Is(err, models.ErrConflict) {
				continue // another instance queued this tick
			}
			return queued, err
		}
		queued++
	}
	if queued > 0 {
		s.Wake()
	}
	return queued, nil
}

// latestDue is the last tick after from and no later than now (zero if none). Only the
// last week is searched: a tick older than that was missed long ago and runs as the
// latest one anyway.
func latestDue(sc models.Schedule, from, now time.Time) (time.Time, error) {
	if sc.Kind == "interval" {
		d, err := time.ParseDuration(sc.Every)
		if err != nil || d < MinGap {
			return time.Time{}, fmt.Errorf("delivery: bad interval %q", sc.Every)
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
		next, err := Next(sc, t)
		if err != nil || next.IsZero() || next.After(now) {
			return due, err
		}
		due, t = next, next
	}
}

// NextRun is when an activation runs next on its schedule: nil when it is manual or
// paused.
func NextRun(a *models.Activation, now time.Time) *time.Time {
	if a.Status != models.ActivationActive {
		return nil
	}
	t, err := Next(a.Schedule(), now)
	if err != nil || t.IsZero() {
		return nil
	}
	return &t
}

// Describe says a schedule in words: "Every 30m", "Daily at 06:00 (Europe/Paris)".
func Describe(sc models.Schedule) string {
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
