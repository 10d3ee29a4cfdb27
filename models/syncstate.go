package models

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gorm.io/gorm"

	"sluice/migrations"
)

// StateEntry is one key a platform acknowledged, with the hash of the payload it holds.
type StateEntry struct {
	Key  string
	Hash uint64
}

// The diff state is the hot path of every run: a run reads all of an activation's keys,
// and a first sync writes each key twice (its intent, then its hash). It is stored in
// pages (sync_state_pages): up to a few thousand consecutive keys of one activation in
// one row, keys in byte order, each key stored as the bytes it does not share with the
// one before it. A first sync of a million records rewrites about a thousand rows,
// where a row per key made it two million upserts; a rerun reads a thousand rows.
// Pages do not overlap: a key belongs to the page with the greatest first key not after
// it (or to the first page).

const (
	// pageTarget is how many keys a page is cut to; a page grows up to pageMax before it
	// is cut, so a few keys added to a page rarely move its neighbours.
	pageTarget = 1024
	pageMax    = 2 * pageTarget
	// pageWriteChunk is how many pages a commit reads and rewrites at a time: it bounds
	// the commit's memory (at most 32 × 2,048 decoded keys, a few MB), and keeps each
	// INSERT of pages under SQLite's bind-parameter limit.
	pageWriteChunk = 32
)

// ScanState streams an activation's acknowledged keys in byte order of the key (the
// column is COLLATE "C" on PostgreSQL; SQLite compares bytes), a page at a time. It is
// one SELECT, so it reads one snapshot: commits made meanwhile (the engine commits
// keys the scan has passed) do not change what it yields. Intents left by a run that
// stopped before settling them (a crash) are first folded into the pages as the
// pending marks they hold.
func (s *Store) ScanState(ctx context.Context, activationID string, fn func(StateEntry) error) error {
	if err := s.foldIntents(ctx, activationID); err != nil {
		return err
	}
	rows, err := s.db.WithContext(ctx).Raw(`SELECT body FROM sync_state_pages WHERE activation_id = ? ORDER BY first_key`, activationID).Rows()
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	var body []byte
	for rows.Next() {
		if err := rows.Scan(&body); err != nil {
			return err
		}
		if err := decodePage(body, fn); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// foldIntents commits the batches stored for an activation into its pages, and drops
// them, in one transaction: a batch with its answer stored (AnswerState) as what the
// platform acknowledged, one without as the pending marks of its intents.
func (s *Store) foldIntents(ctx context.Context, activationID string) error {
	var batches []struct {
		BatchID string
		Body    []byte
		Answer  []byte
		Planned []byte
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT batch_id, body, answer, planned FROM sync_state_intents WHERE activation_id = ? ORDER BY batch_id`, activationID).
		Scan(&batches).Error; err != nil {
		return translate(err)
	}
	if len(batches) == 0 {
		return nil
	}
	var c StateCommit
	for _, b := range batches {
		var err error
		switch {
		case len(b.Answer) > 0 && b.Answer[0] == answerAsPlanned:
			err = decodePlanned(b.Planned, &c, false)
		case len(b.Answer) > 0:
			err = decodeAnswer(b.Answer[1:], &c)
		case b.Planned != nil:
			err = decodePlanned(b.Planned, &c, true)
		default:
			err = decodePage(b.Body, func(e StateEntry) error { c.Upserts = append(c.Upserts, e); return nil })
		}
		if err != nil {
			return err
		}
		c.Settled = append(c.Settled, b.BatchID)
	}
	return s.CommitState(ctx, activationID, c)
}

// AnswerState stores a sent batch's answer beside its intents: the keys the platform
// acknowledged (with their hashes, or the pending marks of records whose fate is not
// known) and those it removed. It is one small row update, made before the next batch is
// sent, so a crash resends at most the batch in flight; CommitState folds the answer
// into the pages later (its Settled drops the row), or the next ScanState does.
//
// On PostgreSQL it does not wait for the write-ahead log to reach the disk: a crash of
// PostgreSQL itself may lose the answer, and then the intents stored before the batch
// was sent count, so its records are sent again, never lost.
func (s *Store) AnswerState(ctx context.Context, activationID, batchID string, upserts []StateEntry, removed []string) error {
	return s.storeAnswer(ctx, activationID, batchID, append([]byte{answerGiven}, encodeAnswer(upserts, removed)...))
}

// AnswerStateAsPlanned is AnswerState for a batch whose every record was acknowledged:
// the answer is its intents' Planned, stored with them, so it is one byte (an answer of
// a thousand keys and hashes would be stored out of line, at a cost a sync pays for
// every batch).
func (s *Store) AnswerStateAsPlanned(ctx context.Context, activationID, batchID string) error {
	return s.storeAnswer(ctx, activationID, batchID, []byte{answerAsPlanned})
}

// The first byte of a stored answer.
const (
	answerAsPlanned = 'P' // the intents' Planned
	answerGiven     = 'A' // followed by the answer (encodeAnswer)
)

func (s *Store) storeAnswer(ctx context.Context, activationID, batchID string, answer []byte) error {
	query := `UPDATE sync_state_intents SET answer = ? WHERE activation_id = ? AND batch_id = ?`
	if s.dialect == migrations.Postgres {
		// SET LOCAL in the statement's own transaction: one round trip, not four.
		query += ` AND set_config('synchronous_commit', 'off', true) IS NOT NULL`
	}
	return translate(s.db.WithContext(ctx).Exec(query, answer, activationID, batchID).Error)
}

// encodeAnswer is a batch's answer (or its planned one): the length of the page of
// upserts (a uvarint), that page, then the removed keys as a page (their hashes 0).
func encodeAnswer(upserts []StateEntry, removed []string) []byte {
	up := encodePage(upserts)
	gone := make([]StateEntry, len(removed))
	for i, k := range removed {
		gone[i].Key = k
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(up)+len(removed)*8+binary.MaxVarintLen64), uint64(len(up)))
	return append(append(buf, up...), encodePage(gone)...)
}

// encodePlanned is a batch's planned answer (encodeAnswer, after its length) and then a
// bit for each planned upsert, in order: set when its pending mark is PendingChanged.
// Entries give the marks; the planned upserts are among them, in the same order.
func encodePlanned(in StateIntent) []byte {
	answer := encodeAnswer(in.Planned, in.PlannedRemoved)
	buf := binary.AppendUvarint(make([]byte, 0, len(answer)+len(in.Planned)/8+binary.MaxVarintLen64+1), uint64(len(answer)))
	buf = append(buf, answer...)
	bits := make([]byte, (len(in.Planned)+7)/8)
	j := 0
	for _, e := range in.Entries {
		if j < len(in.Planned) && in.Planned[j].Key == e.Key {
			if e.Hash == PendingChanged {
				bits[j/8] |= 1 << (j % 8)
			}
			j++
		}
	}
	return append(buf, bits...)
}

// decodePlanned adds what encodePlanned wrote to c: the planned answer, or with
// pending, the pending marks of its keys (a removal's is PendingAdded).
func decodePlanned(planned []byte, c *StateCommit, pending bool) error {
	n, w := binary.Uvarint(planned)
	if w <= 0 || n > uint64(len(planned)-w) {
		return errBadEncoding
	}
	answer, bits := planned[w:w+int(n)], planned[w+int(n):]
	if !pending {
		return decodeAnswer(answer, c)
	}
	var a StateCommit
	if err := decodeAnswer(answer, &a); err != nil {
		return err
	}
	if len(bits) < (len(a.Upserts)+7)/8 {
		return errBadEncoding
	}
	for i, e := range a.Upserts {
		mark := uint64(PendingAdded)
		if bits[i/8]&(1<<(i%8)) != 0 {
			mark = PendingChanged
		}
		c.Upserts = append(c.Upserts, StateEntry{Key: e.Key, Hash: mark})
	}
	for _, k := range a.Removed {
		c.Upserts = append(c.Upserts, StateEntry{Key: k, Hash: PendingAdded})
	}
	return nil
}

// The engine's pending marks (engine.PendingAdded, engine.PendingChanged: models does
// not import the engine; jobs' tests check they agree).
const (
	PendingAdded   = 0
	PendingChanged = 1
)

// decodeAnswer adds what encodeAnswer wrote to c.
func decodeAnswer(answer []byte, c *StateCommit) error {
	n, w := binary.Uvarint(answer)
	if w <= 0 || n > uint64(len(answer)-w) {
		return errBadEncoding
	}
	rest := answer[w:]
	if err := decodePage(rest[:n], func(e StateEntry) error { c.Upserts = append(c.Upserts, e); return nil }); err != nil {
		return err
	}
	return decodePage(rest[n:], func(e StateEntry) error { c.Removed = append(c.Removed, e.Key); return nil })
}

// StateCommit is one transaction on an activation's diff state.
type StateCommit struct {
	// Intents are batches about to be sent: each key with its pending mark, stored
	// whole under the batch's ID (unique across runs) until the batch is settled.
	Intents []StateIntent
	// Upserts and Removed are acknowledged keys (and pending marks of records whose
	// fate is not known); a key both upserted and removed is removed.
	Upserts []StateEntry
	Removed []string
	// Settled names batches whose intents are dropped: their answers are in this commit.
	Settled []string
}

// StateIntent is one batch's intents, and what the state holds once every record of
// the batch is acknowledged (Planned upserts and PlannedRemoved keys), stored with them
// so that such an answer is one byte (AnswerStateAsPlanned).
type StateIntent struct {
	Batch          string
	Entries        []StateEntry
	Planned        []StateEntry
	PlannedRemoved []string
}

// pageRef is a stored page as CommitState first reads it, without its body.
type pageRef struct {
	FirstKey string
	LastKey  string
	Entries  int
}

// pageEdit is what a commit does to one page: the keys it sets and removes, in byte order.
type pageEdit struct {
	ref   *pageRef // nil: a new page
	after *pageRef // a new page's stored page before it, if any
	ops   []stateOp
	keep  []StateEntry // the page's entries, once read
}

// stateOp sets (remove false) or removes one key.
type stateOp struct {
	key    string
	hash   uint64
	remove bool
}

// CommitState applies c in one transaction. Only the pages holding the keys upserted
// or removed are read and rewritten; a first sync, whose keys come in order after every
// stored key, writes new pages without reading any.
func (s *Store) CommitState(ctx context.Context, activationID string, c StateCommit) error {
	ops := stateOps(c.Upserts, c.Removed)
	if len(ops)+len(c.Intents)+len(c.Settled) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(c.Settled) > 0 {
			if err := tx.Exec(`DELETE FROM sync_state_intents WHERE activation_id = ? AND batch_id IN ?`, activationID, c.Settled).Error; err != nil {
				return err
			}
		}
		if err := insertIntents(tx, activationID, c.Intents); err != nil {
			return err
		}
		if len(ops) == 0 {
			return nil
		}
		return commitOps(tx, activationID, ops)
	}))
}

func insertIntents(tx *gorm.DB, activationID string, intents []StateIntent) error {
	return insertRows(tx, "sync_state_intents", []string{"activation_id", "batch_id", "body", "planned"}, len(intents), func(i int) []any {
		in := intents[i]
		if in.Planned == nil && in.PlannedRemoved == nil {
			return []any{activationID, in.Batch, encodePage(in.Entries), nil}
		}
		// The pending marks are told by one bit a key beside the planned answer, not
		// stored again with every key: a sync writes each key's bytes once for this.
		return []any{activationID, in.Batch, []byte{}, encodePlanned(in)}
	})
}

// insertRows inserts n rows into table, row(i) giving the i-th row's values in columns'
// order, pageWriteChunk rows a statement.
func insertRows(tx *gorm.DB, table string, columns []string, n int, row func(i int) []any) error {
	tuple := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
	for start := 0; start < n; start += pageWriteChunk {
		end := min(start+pageWriteChunk, n)
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(columns, ", "))
		args := make([]any, 0, len(columns)*(end-start))
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, row(i)...)
		}
		if err := tx.Exec(b.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// commitOps applies ops (in key order) to the pages holding their keys.
func commitOps(tx *gorm.DB, activationID string, ops []stateOp) error {
	// The pages that may hold the keys: from the one holding the first key to the last
	// one starting before the last key (first keys and sizes only: bodies are read for
	// the pages the keys fall in).
	var refs []pageRef
	err := tx.Raw(`SELECT first_key, last_key, entries FROM sync_state_pages
		WHERE activation_id = ? AND first_key <= ? AND first_key >= COALESCE(
			(SELECT MAX(first_key) FROM sync_state_pages WHERE activation_id = ? AND first_key <= ?), '')
		ORDER BY first_key`, activationID, ops[len(ops)-1].key, activationID, ops[0].key).Scan(&refs).Error
	if err != nil {
		return err
	}
	// A few pages at a time, so that memory does not grow with the state: a rerun's
	// changes are spread over every page.
	edits := assignOps(refs, ops)
	for len(edits) > 0 {
		part := edits[:min(len(edits), pageWriteChunk)]
		edits = edits[len(part):]
		var read []string
		byFirst := map[string]*pageEdit{}
		for _, e := range part {
			if e.ref != nil {
				read = append(read, e.ref.FirstKey)
				byFirst[e.ref.FirstKey] = e
			}
		}
		if err := readPages(tx, activationID, read, byFirst); err != nil {
			return err
		}
		var pages []storedPage
		for _, e := range part {
			pages = append(pages, cutPages(applyOps(e.keep, e.ops))...)
			e.keep = nil
		}
		if len(read) > 0 {
			if err := tx.Exec(`DELETE FROM sync_state_pages WHERE activation_id = ? AND first_key IN ?`, activationID, read).Error; err != nil {
				return err
			}
		}
		if err := insertPages(tx, activationID, pages); err != nil {
			return err
		}
	}
	return nil
}

// stateOps orders a commit's keys: the last upsert of a key counts, a removal beats it.
func stateOps(upserts []StateEntry, removed []string) []stateOp {
	ops := make([]stateOp, 0, len(upserts)+len(removed))
	for _, u := range upserts {
		ops = append(ops, stateOp{key: u.Key, hash: u.Hash})
	}
	for _, k := range removed {
		ops = append(ops, stateOp{key: k, remove: true})
	}
	// Stable: of a key's ops, the last one given stays last; it is the one kept.
	slices.SortStableFunc(ops, func(a, b stateOp) int { return cmp.Compare(a.key, b.key) })
	out := ops[:0]
	for i, op := range ops {
		if i+1 < len(ops) && ops[i+1].key == op.key {
			continue
		}
		out = append(out, op)
	}
	return out
}

// assignOps finds the page of each key among refs (ordered by first key): the last
// page starting at or before it, else the first page. A key after the last key of a
// page at least half full starts a new page after it instead, so a first sync, whose
// keys come in order, writes new pages rather than rewriting a growing one.
func assignOps(refs []pageRef, ops []stateOp) []*pageEdit {
	var edits []*pageEdit
	var cur *pageEdit
	for _, op := range ops {
		i := sort.Search(len(refs), func(i int) bool { return refs[i].FirstKey > op.key }) - 1
		var target *pageEdit
		switch {
		case len(refs) == 0:
			target = &pageEdit{}
		case i < 0:
			target = &pageEdit{ref: &refs[0]}
		case op.key > refs[i].LastKey && refs[i].Entries >= pageTarget/2:
			if op.remove {
				continue // not stored: nothing to remove
			}
			target = &pageEdit{after: &refs[i]}
		default:
			target = &pageEdit{ref: &refs[i]}
		}
		if cur == nil || cur.ref != target.ref || cur.after != target.after {
			cur = target
			edits = append(edits, cur)
		}
		cur.ops = append(cur.ops, op)
	}
	return edits
}

// readPages decodes the bodies of the pages named into their edits.
func readPages(tx *gorm.DB, activationID string, firstKeys []string, edits map[string]*pageEdit) error {
	if len(firstKeys) == 0 {
		return nil
	}
	rows, err := tx.Raw(`SELECT first_key, body FROM sync_state_pages WHERE activation_id = ? AND first_key IN ?`, activationID, firstKeys).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		first string
		body  []byte
	)
	for rows.Next() {
		if err := rows.Scan(&first, &body); err != nil {
			return err
		}
		e := edits[first]
		if e == nil {
			return fmt.Errorf("models: sync state page %q read but not asked for", first)
		}
		e.keep = make([]StateEntry, 0, e.ref.Entries+len(e.ops))
		if err := decodePage(body, func(se StateEntry) error { e.keep = append(e.keep, se); return nil }); err != nil {
			return err
		}
	}
	return rows.Err()
}

// applyOps merges a page's entries (in key order) with ops (in key order).
func applyOps(entries []StateEntry, ops []stateOp) []StateEntry {
	out := make([]StateEntry, 0, len(entries)+len(ops))
	i := 0
	for _, op := range ops {
		for i < len(entries) && entries[i].Key < op.key {
			out = append(out, entries[i])
			i++
		}
		if i < len(entries) && entries[i].Key == op.key {
			i++
		}
		if !op.remove {
			out = append(out, StateEntry{Key: op.key, Hash: op.hash})
		}
	}
	return append(out, entries[i:]...)
}

// storedPage is a page as written.
type storedPage struct {
	first, last string
	entries     int
	body        []byte
}

// cutPages cuts entries into pages: one if they fit pageMax, else pages of pageTarget.
func cutPages(entries []StateEntry) []storedPage {
	size := len(entries)
	if size > pageMax {
		size = pageTarget
	}
	var out []storedPage
	for len(entries) > 0 {
		n := min(size, len(entries))
		part := entries[:n]
		out = append(out, storedPage{first: part[0].Key, last: part[n-1].Key, entries: n, body: encodePage(part)})
		entries = entries[n:]
	}
	return out
}

func insertPages(tx *gorm.DB, activationID string, pages []storedPage) error {
	return insertRows(tx, "sync_state_pages", []string{"activation_id", "first_key", "last_key", "entries", "body"}, len(pages), func(i int) []any {
		p := &pages[i]
		return []any{activationID, p.first, p.last, p.entries, p.body}
	})
}

// encodePage writes entries (best in key order: neighbours share prefixes), each key as appendKey writes it followed by
// its hash (8 bytes, big-endian).
func encodePage(entries []StateEntry) []byte {
	buf := make([]byte, 0, len(entries)*16)
	prev := ""
	for _, e := range entries {
		buf = appendKey(buf, prev, e.Key)
		buf = binary.BigEndian.AppendUint64(buf, e.Hash)
		prev = e.Key
	}
	return buf
}

// decodePage calls fn for each entry of a page, stopping at its first error.
func decodePage(body []byte, fn func(StateEntry) error) error {
	var key []byte
	for len(body) > 0 {
		var ok bool
		if key, body, ok = readKey(body, key); !ok || len(body) < 8 {
			return errBadEncoding
		}
		if err := fn(StateEntry{Key: string(key), Hash: binary.BigEndian.Uint64(body)}); err != nil {
			return err
		}
		body = body[8:]
	}
	return nil
}

// appendKey writes key after prev (keys are written in order, so neighbours share a
// prefix): the length of the prefix it shares with prev, the length of the rest
// (uvarints), then the rest.
func appendKey(buf []byte, prev, key string) []byte {
	shared := 0
	for shared < len(prev) && shared < len(key) && prev[shared] == key[shared] {
		shared++
	}
	buf = binary.AppendUvarint(buf, uint64(shared))
	buf = binary.AppendUvarint(buf, uint64(len(key)-shared))
	return append(buf, key[shared:]...)
}

// readKey reads the key appendKey wrote after prev, into prev's buffer.
func readKey(body, prev []byte) (key, rest []byte, ok bool) {
	shared, n := binary.Uvarint(body)
	if n <= 0 || shared > uint64(len(prev)) {
		return nil, nil, false
	}
	body = body[n:]
	size, n := binary.Uvarint(body)
	if n <= 0 || size > uint64(len(body)-n) {
		return nil, nil, false
	}
	body = body[n:]
	return append(prev[:shared], body[:size]...), body[size:], true
}

var errBadEncoding = errors.New("models: a sync state page or a timeline group is corrupt")

// ResetState forgets everything an activation's platform acknowledged (full resync).
func (s *Store) ResetState(ctx context.Context, activationID string) error {
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM sync_state_intents WHERE activation_id = ?`, activationID).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM sync_state_pages WHERE activation_id = ?`, activationID).Error
	}))
}

// movePerKeyState moves the diff state of databases migrated before it was paged (the
// table sync_state, a row per key) into pages, then drops that table: no activation
// forgets what its platform holds. It runs after the migrations, in one transaction;
// on PostgreSQL the table is locked first, so instances starting together take turns
// (the second finds it gone).
func (s *Store) movePerKeyState(ctx context.Context) error {
	if !s.db.Migrator().HasTable("sync_state") {
		return nil
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == migrations.Postgres {
			if err := tx.Exec(`LOCK TABLE sync_state IN ACCESS EXCLUSIVE MODE`).Error; err != nil {
				return err
			}
		}
		rows, err := tx.Raw(`SELECT activation_id, primary_key, payload_hash FROM sync_state ORDER BY activation_id, primary_key`).Rows()
		if err != nil {
			return err
		}
		var (
			act, cur string
			entries  []StateEntry
			pages    = map[string][]storedPage{}
		)
		for rows.Next() {
			var e StateEntry
			var hash int64
			if err := rows.Scan(&act, &e.Key, &hash); err != nil {
				rows.Close()
				return err
			}
			// Pages are encoded as the rows come (a tenth of their size in memory).
			if (act != cur || len(entries) == pageTarget) && len(entries) > 0 {
				pages[cur] = append(pages[cur], cutPages(entries)...)
				entries = entries[:0]
			}
			cur = act
			e.Hash = uint64(hash)
			entries = append(entries, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(entries) > 0 {
			pages[cur] = append(pages[cur], cutPages(entries)...)
		}
		for act, ps := range pages { // the moved state has no intents: pending marks are in its hashes
			if err := insertPages(tx, act, ps); err != nil {
				return err
			}
		}
		return tx.Exec(`DROP TABLE sync_state`).Error
	})
	if err != nil && !s.db.Migrator().HasTable("sync_state") {
		return nil // another instance moved it
	}
	if err != nil {
		return fmt.Errorf("models: moving the sync state into pages: %w", err)
	}
	return nil
}
