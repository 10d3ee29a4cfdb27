package connectortest

import (
	"strings"
	"testing"

	"sluice/connectors"
)

// StageFails checks checks, one Validate's answer: stage failed and its message holds
// every phrase, the stages before it passed, and the ones after it were skipped. It is
// how a connector's own tests pin each failure to its stage and its words (wrong
// credentials at connection, an unknown catalog at access, a missing grant naming the
// object at grants…).
func StageFails(t testing.TB, checks []connectors.Check, stage connectors.Stage, phrases ...string) {
	t.Helper()
	seen := false
	for _, ch := range checks {
		switch {
		case ch.Stage == stage:
			seen = true
			if ch.OK || ch.Skipped {
				t.Fatalf("stage %s: %+v, want it to fail", stage, ch)
			}
			for _, p := range phrases {
				if !strings.Contains(ch.Message, p) {
					t.Errorf("stage %s says %q, want it to say %q", stage, ch.Message, p)
				}
			}
		case !seen && !ch.OK:
			t.Fatalf("stage %s failed before %s: %+v", ch.Stage, stage, ch)
		case seen && !ch.Skipped:
			t.Errorf("stage %s after the failed %s is not skipped: %+v", ch.Stage, stage, ch)
		}
	}
	if !seen {
		t.Fatalf("no stage %s in %+v", stage, checks)
	}
}
