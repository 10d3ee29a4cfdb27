package models

import (
	"context"
	"strings"
)

// StateEntry is one key a platform acknowledged, with the hash of the payload it holds.
type StateEntry struct {
	Key  string
	Hash uint64
}

// ScanState streams an activation's acknowledged keys in byte order of the key (the
// column is COLLATE "C" on PostgreSQL; SQLite compares bytes), without loading them all.
func (s *Store) ScanState(ctx context.Context, activationID string, fn func(StateEntry) error) error {
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

// stateChunk keeps each statement under both engines' bind-parameter limits.
const stateChunk = 1000

// CommitState records one acknowledged batch: upserts take their new hashes, removals go.
func (s *Store) CommitState(ctx context.Context, activationID string, upserts []StateEntry, removed []string) error {
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

// ResetState forgets everything an activation's platform acknowledged (full resync).
func (s *Store) ResetState(ctx context.Context, activationID string) error {
	return translate(s.db.WithContext(ctx).Exec(`DELETE FROM sync_state WHERE activation_id = ?`, activationID).Error)
}
