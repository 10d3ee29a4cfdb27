package components

import (
	"testing"
	"time"
)

// Times are formatted as tables show them, with one allocation: the lists format one
// or two a row.
func TestFormatTime(t *testing.T) {
	at := time.Date(2026, 11, 28, 18, 40, 5, 0, time.FixedZone("CET", 3600))
	if got := FormatTime(at); got != "28 Nov 2026, 17:40 UTC" {
		t.Errorf("FormatTime: %q", got)
	}
	if got := FormatTime(time.Time{}); got != "—" {
		t.Errorf("zero time: %q", got)
	}
	if got := FormatTimePtr(nil); got != "Never" {
		t.Errorf("no time: %q", got)
	}
	if got := string(AppendTimePtr([]byte("at "), &at)); got != "at 28 Nov 2026, 17:40 UTC" {
		t.Errorf("AppendTimePtr: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = FormatTimePtr(&at) }); n > 1 {
		t.Errorf("FormatTimePtr: %.0f allocations, want 1", n)
	}
}
