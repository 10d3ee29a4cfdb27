package datamodels

import (
	"context"
	"strings"
	"testing"

	"sluice/connectors"
)

// A warehouse that bills by bytes read says what reading the model costs; others say nothing.
func TestPreviewShowsWhatTheWarehouseScans(t *testing.T) {
	for scan, want := range map[int64]string{2_150_000_000: "scans 2.1 GB", 0: ""} {
		var b strings.Builder
		p := PreviewProps{Columns: []connectors.Column{{Name: "id", Type: connectors.TypeInteger}}, Rows: [][]string{{"1"}}, PrimaryKey: "id", ScanBytes: scan}
		if err := Preview(p).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(b.String(), `data-testid="model-scan"`)
		if got != (want != "") || (want != "" && !strings.Contains(b.String(), want)) {
			t.Errorf("ScanBytes %d: the preview says %q", scan, b.String())
		}
	}
}
