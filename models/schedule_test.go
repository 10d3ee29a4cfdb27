package models

import (
	"testing"
	"time"
)

func TestNextSchedules(t *testing.T) {
	at := time.Date(2026, 11, 28, 18, 39, 30, 0, time.UTC) // a Saturday
	cases := []struct {
		sc   Schedule
		want time.Time
	}{
		{Schedule{Kind: "interval", Every: "30m"}, time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)},
		{Schedule{Kind: "interval", Every: "6h"}, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
		{Schedule{Kind: "daily", At: "06:00", Timezone: "Europe/Paris"}, time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)},
		{Schedule{Kind: "weekly", At: "09:15", Weekday: "monday", Timezone: "UTC"}, time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)},
		{Schedule{Kind: "cron", Expr: "0 */2 * * *", Timezone: "UTC"}, time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)},
		{Schedule{Kind: "manual"}, time.Time{}},
	}
	for _, c := range cases {
		got, err := c.sc.Next(at)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Next(%+v) = %v, %v; want %v", c.sc, got, err, c.want)
		}
	}
	if _, err := (Schedule{Kind: "cron", Expr: "every day"}).Next(at); err == nil {
		t.Error("a bad cron expression was accepted")
	}
}
