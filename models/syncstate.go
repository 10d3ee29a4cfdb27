package models

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"sluice/migrations"
)

// StateEntry is one key a platform acknowledged, with the hash of the payload it holds.
type StateEntry struct {
	Key  string
	Hash uint64
}

// The diff state is the hot path of every run: a run reads all of an activation's keys
// and, on a first sync, writes each key twice (its intent, then its hash). On PostgreSQL
// it goes through pgx directly: a scan decodes raw values, and a commit is one statement
// per operation whatever the batch's size, its keys and hashes bound as two arrays
// (unnest), where gorm would build and bind a parameter list of three values per key.
// SQLite keeps the portable statements.

const (
	// scanStateSQL reads one page of keys after $2 ($3 rows): each page is an index range
	// scan of the primary key, which streams from its first row, where a query over all
	// keys may be planned as a scan and a sort (on stale statistics, e.g. right after a
	// first sync) that returns nothing until every key is read and sorted.
	scanStateFirstSQL = `SELECT primary_key, payload_hash FROM sync_state WHERE activation_id = $1 ORDER BY primary_key LIMIT $2`
	scanStateNextSQL  = `SELECT primary_key, payload_hash FROM sync_state WHERE activation_id = $1 AND primary_key > $3 ORDER BY primary_key LIMIT $2`
	// upsertStateSQL takes ($1 activation, $2 keys, $3 hashes).
	upsertStateSQL = `INSERT INTO sync_state (activation_id, primary_key, payload_hash)
SELECT $1, u.k, u.h FROM unnest($2::text[], $3::bigint[]) AS u(k, h)
ON CONFLICT (activation_id, primary_key) DO UPDATE SET payload_hash = excluded.payload_hash`
	deleteStateSQL = `DELETE FROM sync_state WHERE activation_id = $1 AND primary_key = ANY($2::text[])`
)

// ScanState streams an activation's acknowledged keys in byte order of the key (the
// column is COLLATE "C" on PostgreSQL; SQLite compares bytes), without loading them all.
func (s *Store) ScanState(ctx context.Context, activationID string, fn func(StateEntry) error) error {
	if s.dialect == migrations.Postgres {
		return s.withPgx(ctx, func(conn *pgx.Conn) error { return scanStatePgx(ctx, conn, activationID, fn) })
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT primary_key, payload_hash FROM sync_state WHERE activation_id = ? ORDER BY primary_key`, activationID).Rows()
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	var (
		key  string
		hash int64
	)
	for rows.Next() {
		if err := rows.Scan(&key, &hash); err != nil {
			return err
		}
		if err := fn(StateEntry{Key: key, Hash: uint64(hash)}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanStatePage is how many keys one page of a PostgreSQL scan reads.
const scanStatePage = 20000

// scanStatePgx pages through the keys by key (which the engine allows: Commit only
// touches keys the scan has passed), reading raw values: a key is copied once into its
// string, a hash read from its eight bytes, with no per-row reflection or boxing.
func scanStatePgx(ctx context.Context, conn *pgx.Conn, activationID string, fn func(StateEntry) error) error {
	args := []any{activationID, scanStatePage}
	sql := scanStateFirstSQL // not "> ''": a key may be the empty text
	for {
		n, last, err := scanStatePagePgx(ctx, conn, sql, args, fn)
		if err != nil || n < scanStatePage {
			return err
		}
		sql, args = scanStateNextSQL, []any{activationID, scanStatePage, last}
	}
}

func scanStatePagePgx(ctx context.Context, conn *pgx.Conn, sql string, args []any, fn func(StateEntry) error) (n int, last string, err error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		fields := rows.FieldDescriptions()
		if len(raw) != 2 || raw[0] == nil || raw[1] == nil {
			return n, last, fmt.Errorf("models: sync_state row of %d values", len(raw))
		}
		var hash int64
		if fields[1].Format == pgtype.BinaryFormatCode {
			if len(raw[1]) != 8 {
				return n, last, fmt.Errorf("models: sync_state hash of %d bytes", len(raw[1]))
			}
			hash = int64(binary.BigEndian.Uint64(raw[1]))
		} else if hash, err = strconv.ParseInt(string(raw[1]), 10, 64); err != nil {
			return n, last, err
		}
		n++
		last = string(raw[0])
		if err := fn(StateEntry{Key: last, Hash: uint64(hash)}); err != nil {
			return n, last, err
		}
	}
	return n, last, rows.Err()
}

// withPgx runs fn on one of the pool's connections as a *pgx.Conn (PostgreSQL only).
func (s *Store) withPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("models: the PostgreSQL driver is %T, not pgx", dc)
		}
		return fn(sc.Conn())
	})
}

// stateChunk keeps each SQLite statement under its bind-parameter limit.
const stateChunk = 1000

// CommitState records one acknowledged batch: upserts take their new hashes, removals go.
func (s *Store) CommitState(ctx context.Context, activationID string, upserts []StateEntry, removed []string) error {
	if len(upserts)+len(removed) == 0 {
		return nil
	}
	if s.dialect == migrations.Postgres {
		return s.commitStatePostgres(ctx, activationID, upserts, removed)
	}
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return translate(tx.Error)
	}
	defer tx.Rollback()
	for start := 0; start < len(upserts); start += stateChunk {
		part := upserts[start:min(start+stateChunk, len(upserts))]
		var b strings.Builder
		b.WriteString(`INSERT INTO sync_state (activation_id, primary_key, payload_hash) VALUES `)
		args := make([]any, 0, 3*len(part))
		for i, e := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, activationID, e.Key, int64(e.Hash))
		}
		b.WriteString(` ON CONFLICT (activation_id, primary_key) DO UPDATE SET payload_hash = excluded.payload_hash`)
		if err := tx.Exec(b.String(), args...).Error; err != nil {
			return translate(err)
		}
	}
	for start := 0; start < len(removed); start += stateChunk {
		part := removed[start:min(start+stateChunk, len(removed))]
		if err := tx.Exec(`DELETE FROM sync_state WHERE activation_id = ? AND primary_key IN ?`, activationID, part).Error; err != nil {
			return translate(err)
		}
	}
	return translate(tx.Commit().Error)
}

// commitStatePostgres is CommitState in one transaction of at most two statements.
func (s *Store) commitStatePostgres(ctx context.Context, activationID string, upserts []StateEntry, removed []string) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := execStatePostgres(ctx, tx, activationID, upserts, removed); err != nil {
		return err
	}
	return translate(tx.Commit())
}

func execStatePostgres(ctx context.Context, tx *sql.Tx, activationID string, upserts []StateEntry, removed []string) error {
	if len(upserts) > 0 {
		upserts = lastOfEachKey(upserts)
		keys := make([]string, len(upserts))
		hashes := make([]int64, len(upserts))
		for i, e := range upserts {
			keys[i], hashes[i] = e.Key, int64(e.Hash)
		}
		if _, err := tx.ExecContext(ctx, upsertStateSQL, activationID, keys, hashes); err != nil {
			return translate(err)
		}
	}
	if len(removed) > 0 {
		if _, err := tx.ExecContext(ctx, deleteStateSQL, activationID, removed); err != nil {
			return translate(err)
		}
	}
	return nil
}

// lastOfEachKey keeps the last entry of each key, in order: one INSERT … ON CONFLICT
// cannot update a row twice, where the entries applied one after the other would leave
// the last hash. The engine's batches hold each key once, in key order, so this is
// usually a check that copies nothing.
func lastOfEachKey(upserts []StateEntry) []StateEntry {
	sorted := true
	for i := 1; i < len(upserts) && sorted; i++ {
		sorted = upserts[i-1].Key < upserts[i].Key
	}
	if sorted {
		return upserts
	}
	last := make(map[string]int, len(upserts))
	for i, e := range upserts {
		last[e.Key] = i
	}
	out := make([]StateEntry, 0, len(last))
	for i, e := range upserts {
		if last[e.Key] == i {
			out = append(out, e)
		}
	}
	return out
}

// ResetState forgets everything an activation's platform acknowledged (full resync).
func (s *Store) ResetState(ctx context.Context, activationID string) error {
	return translate(s.db.WithContext(ctx).Exec(`DELETE FROM sync_state WHERE activation_id = ?`, activationID).Error)
}
