package components

import "testing"

func TestScanSize(t *testing.T) {
	for n, want := range map[int64]string{1: "1 byte", 999: "999 bytes", 1000: "1.0 kB", 2_150_000_000: "2.1 GB", 3_000_000_000_000: "3.0 TB"} {
		if got := ScanSize(n); got != want {
			t.Errorf("ScanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
