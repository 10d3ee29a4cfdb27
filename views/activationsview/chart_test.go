package activationsview

import (
	"slices"
	"testing"

	"sluice/models"
)

func TestChartAxisLabelsAreWholeAndRound(t *testing.T) {
	cases := []struct {
		largest int64
		labels  []string
	}{
		{0, []string{"0", "1", "2"}},
		{1, []string{"0", "1", "2"}},
		{3, []string{"0", "2", "4"}},
		{200, []string{"0", "100", "200"}},
		{1234, []string{"0", "620", "1240"}},
		{5000, []string{"0", "2500", "5000"}},
		{987654, []string{"0", "500000", "1000000"}},
	}
	for _, tc := range cases {
		c := NewChart([]models.Run{{RunCounts: models.RunCounts{Sent: tc.largest}}})
		var got []string
		for _, tick := range c.Ticks {
			got = append(got, tick.Label)
		}
		if !slices.Equal(got, tc.labels) {
			t.Errorf("largest bar %d: axis labels %v, want %v", tc.largest, got, tc.labels)
		}
		if c.Max < tc.largest {
			t.Errorf("largest bar %d: axis top %d cuts it", tc.largest, c.Max)
		}
	}
}

func TestChartCaptionCountsRuns(t *testing.T) {
	if got := NewChart([]models.Run{{RunCounts: models.RunCounts{Sent: 1}}}).RunsCaption(); got != "the last run" {
		t.Errorf("one run: %q", got)
	}
	if got := NewChart(make([]models.Run, 40)).RunsCaption(); got != "last 30 runs" {
		t.Errorf("forty runs: %q", got)
	}
}
