package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// dataSet is what seed built: the activation with the long history and one of its runs.
type dataSet struct {
	bigActivation string
	failedRun     string
}

// seed builds a large customer's workspace in SQL, set-based: one source, model, segment
// and webhook platform, n activations (every tenth paused, every seventh failing), ten
// runs for each of them and history runs for the first, one every 15 minutes back from
// now, every 25th failed, plus an open incident for each failing activation.
func seed(ctx context.Context, dbURL, workspace string, n, history int) (dataSet, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return dataSet{}, err
	}
	defer conn.Close(ctx)
	now := time.Now().UTC().Truncate(time.Minute)
	stmts := []string{
		`INSERT INTO sources (id, workspace_id, name, kind, status, created_at, updated_at)
		 VALUES ('load-source', @ws, 'Warehouse', 'postgres', 'connected', @now::timestamptz, @now::timestamptz)`,
		`INSERT INTO data_models (id, workspace_id, source_id, name, table_name, primary_key, columns_json, created_at, updated_at)
		 VALUES ('load-model', @ws, 'load-source', 'Customers', 'customers', 'id',
		         '[{"name":"id","type":"text"},{"name":"email","type":"text"}]', @now::timestamptz, @now::timestamptz)`,
		`INSERT INTO segments (id, workspace_id, model_id, name, created_at, updated_at)
		 VALUES ('load-segment', @ws, 'load-model', 'Everyone', @now::timestamptz, @now::timestamptz)`,
		`INSERT INTO platforms (id, workspace_id, name, kind, config_json, created_at, updated_at)
		 VALUES ('load-platform', @ws, 'Webhook', 'webhook', '{"url":"http://127.0.0.1:9/hook"}', @now::timestamptz, @now::timestamptz)`,
		// Activations a-0000 … ; a-0000 is the one with the long history.
		`INSERT INTO activations (id, workspace_id, name, segment_id, platform_id, action, mappings_json, schedule_json,
		                          status, health, created_at, updated_at)
		 SELECT 'a-' || lpad(i::text, 4, '0'), @ws, 'Audience ' || lpad(i::text, 4, '0'), 'load-segment', 'load-platform', 'upsert',
		        '[{"from":"email","to":"email","type":"email"}]', '{"kind":"interval","every":"15m"}',
		        CASE WHEN i % 10 = 9 THEN 'paused' ELSE 'active' END,
		        CASE WHEN i % 7 = 6 THEN 'failed' ELSE 'healthy' END,
		        @now::timestamptz - interval '3 years', @now::timestamptz
		 FROM generate_series(0, @n::int - 1) AS i`,
		// Ten recent runs for each activation but the first.
		`INSERT INTO runs (id, workspace_id, activation_id, status, trigger, scheduled_for, stage, processed, queried, added,
		                   unchanged, sent, error_category, error_message, created_at, started_at, finished_at)
		 SELECT 'r-' || a.id || '-' || lpad(k::text, 2, '0'), @ws, a.id,
		        CASE WHEN a.health = 'failed' AND k = 9 THEN 'failed' ELSE 'succeeded' END, 'schedule',
		        @now::timestamptz - (10 - k) * interval '15 minutes', 'commit', 1000, 1000, 10, 990, 10,
		        CASE WHEN a.health = 'failed' AND k = 9 THEN 'connection' ELSE '' END,
		        CASE WHEN a.health = 'failed' AND k = 9 THEN 'The platform did not answer.' ELSE '' END,
		        @now::timestamptz - (10 - k) * interval '15 minutes', @now::timestamptz - (10 - k) * interval '15 minutes',
		        @now::timestamptz - (10 - k) * interval '15 minutes' + interval '40 seconds'
		 FROM activations a, generate_series(0, 9) AS k
		 WHERE a.workspace_id = @ws AND a.id <> 'a-0000'`,
		// The long history: run h-000000 is the oldest.
		`INSERT INTO runs (id, workspace_id, activation_id, status, trigger, scheduled_for, stage, processed, queried, added,
		                   changed, removed, unchanged, sent, rejected, error_category, error_message, created_at, started_at, finished_at)
		 SELECT 'h-' || lpad(k::text, 6, '0'), @ws, 'a-0000',
		        CASE WHEN k % 25 = 24 THEN 'failed' ELSE 'succeeded' END, 'schedule',
		        @now::timestamptz - (@h::int - k) * interval '15 minutes', 'commit', 5000, 5000, 20, 30, 5, 4945, 55, 0,
		        CASE WHEN k % 25 = 24 THEN 'rate_limit' ELSE '' END,
		        CASE WHEN k % 25 = 24 THEN 'The platform answered 429 too many times.' ELSE '' END,
		        @now::timestamptz - (@h::int - k) * interval '15 minutes', @now::timestamptz - (@h::int - k) * interval '15 minutes',
		        @now::timestamptz - (@h::int - k) * interval '15 minutes' + interval '90 seconds'
		 FROM generate_series(0, @h::int - 1) AS k`,
		`UPDATE activations a SET last_run_id = r.id
		 FROM (SELECT DISTINCT ON (activation_id) activation_id, id FROM runs
		       WHERE workspace_id = @ws ORDER BY activation_id, created_at DESC) r
		 WHERE a.id = r.activation_id`,
		`INSERT INTO incidents (id, workspace_id, object_type, object_id, object_name, event, category, message, run_id,
		                        opened_at, last_seen_at, occurrences)
		 SELECT 'i-' || a.id, @ws, 'activation', a.id, a.name, 'run_failed', 'connection', 'The platform did not answer.',
		        a.last_run_id, @now::timestamptz - interval '1 hour', @now::timestamptz - interval '15 minutes', 3
		 FROM activations a WHERE a.workspace_id = @ws AND a.health = 'failed'`,
		// Hint bits set, statistics fresh and the bulk write flushed, so the first
		// endpoint measured does not pay for the load.
		`VACUUM ANALYZE`,
		`CHECKPOINT`,
	}
	args := pgx.NamedArgs{"ws": workspace, "now": now, "n": n, "h": history}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q, args); err != nil {
			return dataSet{}, fmt.Errorf("seed: %w\n%s", err, q)
		}
	}
	ds := dataSet{bigActivation: "a-0000", failedRun: "h-" + fmt.Sprintf("%06d", history-1)}
	// The big activation's latest failed run, the one its page shows as the last error.
	err = conn.QueryRow(ctx, `SELECT id FROM runs WHERE activation_id = 'a-0000' AND status = 'failed'
		ORDER BY created_at DESC LIMIT 1`).Scan(&ds.failedRun)
	return ds, err
}
