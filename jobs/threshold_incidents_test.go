package jobs_test

import (
	"strings"
	"testing"
	"time"

	"sluice/models"
)

// A run that passes the workspace's source-issue alert threshold opens one
// threshold_passed incident on its activation and queues its alert; a repeat only counts
// one more occurrence; a run back under every threshold resolves it.
func TestThresholdPassedIncidentOnPostgres(t *testing.T) {
	w := newWorld(t)
	if _, err := w.store.PutAlertSettings(w.ctx, w.admin, models.AlertSettings{
		Recipients: []string{"ops@example.com"}, Events: []string{models.EventThresholdPassed},
		Thresholds: models.AlertThresholds{SourceIssuesPercent: 5}}, false); err != nil {
		t.Fatal(err)
	}
	queued := func() []models.OutboxMessage {
		t.Helper()
		msgs, err := w.store.ClaimAlerts(w.ctx, 100, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	incidents := func(status string) []models.Incident {
		t.Helper()
		list, _, err := w.store.Incidents(w.ctx, w.admin.WorkspaceID, models.IncidentFilter{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	// 1. Two invalid rows and two sharing key 43: 4 of 44 rows (9.1%), above 5%.
	r, _ := w.run()
	if r.Status == models.RunFailed {
		t.Fatalf("first run failed: %s", r.ErrorMessage)
	}
	open := incidents(models.IncidentsOpen)
	if len(open) != 1 || open[0].Event != models.EventThresholdPassed || open[0].ObjectID != w.act.ID || open[0].RunID != r.ID ||
		!strings.Contains(open[0].Message, "9.1% of the rows read had source issues or were rejected, above the alert threshold of 5%") {
		t.Fatalf("open incidents after the first run: %+v", open)
	}
	if msgs := queued(); len(msgs) != 1 || msgs[0].Channel != models.ChannelEmail || !strings.Contains(msgs[0].Payload, "passed a threshold") {
		t.Fatalf("queued after the first run: %+v", msgs)
	}

	// 2. The same again: one incident, two occurrences, nothing queued.
	w.exec(`UPDATE customers SET name = 'Again' WHERE id = 1`)
	w.run()
	if open = incidents(models.IncidentsOpen); len(open) != 1 || open[0].Occurrences != 2 {
		t.Fatalf("open incidents after a repeat: %+v", open)
	}
	if msgs := queued(); len(msgs) != 0 {
		t.Fatalf("a repeat queued %d alerts", len(msgs))
	}

	// 3. Clean data: back under the threshold, the incident is resolved with one notice.
	w.exec(`DELETE FROM customers WHERE id = 43`)
	w.exec(`UPDATE customers SET email = 'c2@example.com' WHERE id = 2`)
	w.exec(`UPDATE customers SET phone = '06 12 34 56 03' WHERE id = 3`)
	if r, _ = w.run(); r.Status != models.RunSucceeded {
		t.Fatalf("clean run: %s %s", r.Status, r.ErrorMessage)
	}
	if open = incidents(models.IncidentsOpen); len(open) != 0 {
		t.Fatalf("still open after a clean run: %+v", open)
	}
	if res := incidents(models.IncidentsResolved); len(res) != 1 || res[0].Event != models.EventThresholdPassed {
		t.Fatalf("resolved: %+v", res)
	}
	if msgs := queued(); len(msgs) != 1 || !strings.Contains(msgs[0].Payload, "resolved") {
		t.Fatalf("queued after the clean run: %+v", msgs)
	}
}
