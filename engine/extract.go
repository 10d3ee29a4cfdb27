package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/segments"
)

// field is one mapped destination field, as a run reads and checks it.
type field struct {
	to         string
	from       string
	col        int // index among the extracted values (after the key)
	kind       connectors.FieldKind
	required   bool
	identifier bool
}

// plan is what a run works out before reading a row: the extraction statement and the
// fields it checks.
type plan struct {
	sql  string
	args []any
	// fields in mapping order (the order problems are reported in); sorted lists them by
	// destination name (the order the payload is hashed in).
	fields       []field
	sorted       []int
	identifiers  []string
	ncols        int
	sendRemovals bool
	batchSize    int
	maxBytes     int
	region       string
}

func configError(msg string) *connectors.Error {
	return &connectors.Error{Category: connectors.CategoryConfiguration, Message: msg}
}

// newPlan checks the job's settings against the model and the action, and builds the
// extraction statement. Its errors are configuration errors: nothing is read or sent.
func newPlan(job Job) (*plan, *connectors.Error) {
	switch {
	case job.Source == nil:
		return nil, configError("The activation's source is not open.")
	case job.Destination == nil:
		return nil, configError("The activation's platform is not open.")
	case job.PrimaryKey == "":
		return nil, configError("The model has no primary key.")
	case len(job.Mappings) == 0:
		return nil, configError("The activation maps no fields: add at least one mapping.")
	}
	hasColumn := func(name string) bool {
		return slices.ContainsFunc(job.Columns, func(c connectors.Column) bool { return c.Name == name })
	}
	if !hasColumn(job.PrimaryKey) {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration,
			Message: fmt.Sprintf("The primary key column %s is not in the model.", job.PrimaryKey)}
	}
	actionFields := map[string]connectors.ActionField{}
	for _, f := range job.Action.Fields {
		actionFields[f.Name] = f
	}

	p := &plan{
		sendRemovals: job.Settings.SendRemovals && job.Action.Removals,
		batchSize:    job.Action.BatchSize,
		maxBytes:     job.Action.MaxBatchBytes,
		region:       strings.ToUpper(strings.TrimSpace(job.Settings.DefaultRegion)),
	}
	if p.batchSize <= 0 {
		p.batchSize = DefaultBatchSize
	}
	var columns []string // selected after the key, each once
	colIndex := map[string]int{}
	seen := map[string]bool{}
	for i, m := range job.Mappings {
		if m.To == "" || m.From == "" {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: fmt.Sprintf("mappings[%d]", i),
				Message: "A mapping needs both a column and a destination field."}
		}
		if seen[m.To] {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: fmt.Sprintf("mappings[%d]", i),
				Message: fmt.Sprintf("The destination field %s is mapped twice.", m.To)}
		}
		seen[m.To] = true
		if !hasColumn(m.From) {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: fmt.Sprintf("mappings[%d]", i),
				Message: fmt.Sprintf("The column %s, mapped to %s, is not in the model: remap it.", m.From, m.To)}
		}
		af, known := actionFields[m.To]
		if !known && !job.Action.Custom && len(job.Action.Fields) > 0 {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: fmt.Sprintf("mappings[%d]", i),
				Message: fmt.Sprintf("The action %s has no field %s.", job.Action.Name, m.To)}
		}
		kind := m.Kind
		if kind == "" {
			kind = af.Kind
		}
		if kind == "" {
			kind = connectors.KindString
		}
		idx, ok := colIndex[m.From]
		if !ok {
			idx = len(columns)
			colIndex[m.From] = idx
			columns = append(columns, m.From)
		}
		p.fields = append(p.fields, field{to: m.To, from: m.From, col: idx, kind: kind,
			required: af.Required, identifier: af.Identifier})
		if af.Identifier {
			p.identifiers = append(p.identifiers, m.To)
		}
	}
	var needIDs []string
	for _, af := range job.Action.Fields {
		if af.Required && !seen[af.Name] {
			return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "mappings",
				Message: fmt.Sprintf("The action %s needs the field %s: map a column to it.", job.Action.Name, af.Name)}
		}
		if af.Identifier {
			needIDs = append(needIDs, af.Name)
		}
	}
	if len(needIDs) > 0 && len(p.identifiers) == 0 {
		return nil, &connectors.Error{Category: connectors.CategoryConfiguration, Field: "mappings",
			Message: fmt.Sprintf("Map at least one of the fields that identify a record at the destination: %s.", strings.Join(needIDs, ", "))}
	}
	p.sorted = make([]int, len(p.fields))
	for i := range p.sorted {
		p.sorted[i] = i
	}
	slices.SortFunc(p.sorted, func(a, b int) int { return strings.Compare(p.fields[a].to, p.fields[b].to) })
	p.ncols = len(columns)

	sql, args, ce := extractSQL(job.Source.Dialect(), job.Relation, job.Condition, job.Columns, job.PrimaryKey, columns)
	if ce != nil {
		return nil, ce
	}
	p.sql, p.args = sql, args
	return p, nil
}

// extractSQL is the extraction statement: the key's text form first, then columns, of
// the rows the segment's condition matches, ordered by the key's text in byte order —
// Go's string order, the order State.Scan yields — so the two streams merge. Values are
// only ever bound (segments.Compile), never written into the SQL.
func extractSQL(d connectors.Dialect, rel connectors.Relation, cond segments.Condition, cols []connectors.Column, pk string, columns []string) (string, []any, *connectors.Error) {
	if d == nil {
		return "", nil, configError("The source has no SQL dialect.")
	}
	where, args, err := segments.Compile(d, rel, cond, cols)
	if err != nil {
		ce := &connectors.Error{Category: connectors.CategoryConfiguration, Message: segments.CompileMessage(err), Detail: err.Error(), Err: err}
		var fe *segments.FieldError
		if errors.As(err, &fe) {
			ce.Message = fmt.Sprintf("The segment's conditions are not valid (%s): %s.", fe.Path, fe.Message)
			ce.Field = fe.Path
		}
		return "", nil, ce
	}
	qualified := func(name string) string { return d.QuoteIdent(segments.Alias) + "." + d.QuoteIdent(name) }
	key, ok := KeyTextSQL(d, qualified(pk))
	if !ok {
		return "", nil, configError(fmt.Sprintf("Sluice cannot order primary keys on %s sources yet.", d.Name()))
	}
	list := make([]string, 0, len(columns)+1)
	list = append(list, key)
	for _, c := range columns {
		list = append(list, qualified(c))
	}
	sql := "SELECT " + strings.Join(list, ", ") +
		" FROM " + d.RelationSQL(rel, segments.Alias) +
		" WHERE " + where +
		" ORDER BY " + key
	return sql, args, nil
}

// KeyTextSQL is the expression of a key column's text form that orders in byte order,
// as the dialect's connectors.KeyOrderer writes it; column is quoted and qualified. ok
// is false for a dialect without one: no SQL is byte order on every warehouse, so the
// engine has no default it could trust (see connectors.KeyOrderer).
func KeyTextSQL(d connectors.Dialect, column string) (string, bool) {
	ko, ok := d.(connectors.KeyOrderer)
	if !ok {
		return "", false
	}
	return ko.KeyTextSQL(column), true
}

// extracted is one row as the extraction goroutine hands it over: the key's text (null
// when the key is NULL) and the mapped columns' values, owned by the row.
type extracted struct {
	key  string
	null bool
	vals []any
}

// chunkRows rows (or chunkBytes of memory, whichever comes first) travel together, and
// at most chunkQueue chunks wait: the warehouse stream runs ahead of the diff by at most
// 32,768 rows or some 8 MB. That much lets the source go on decoding while a batch is
// being delivered (tens of milliseconds), instead of stalling at every batch, and it
// bounds memory whatever the segment's size.
const (
	chunkRows  = 256
	chunkBytes = 64 << 10
	chunkQueue = 128
	// chunkFree is how many read chunks wait to be reused.
	chunkFree = 8
)

// rowSize is what a row holds in memory, roughly: its slot in a chunk, its values'
// interfaces, and their text.
func rowSize(key string, vals []any) int {
	n := 48 + len(key)
	for _, v := range vals {
		n += 16
		switch x := v.(type) {
		case string:
			n += len(x)
		case map[string]any, []any:
			n += 256 // decoded JSON: an estimate
		}
	}
	return n
}

// rowChunk is up to chunkRows rows and the values they point into. The diff hands each
// chunk back once read (free), so the reader reuses chunks instead of allocating one for
// every 256 rows.
type rowChunk struct {
	rows []extracted
	vals []any
}

// extract streams the segment through the diff: a goroutine reads the source into
// small chunks on a channel with little room, so the warehouse waits when loading does.
func (r *run) extract(ctx context.Context) *connectors.Error {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan *rowChunk, chunkQueue)
	free := make(chan *rowChunk, chunkFree)
	done := make(chan error, 1)
	ncols := r.plan.ncols
	go func() {
		defer close(chunks)
		var (
			c     *rowChunk
			bytes int
		)
		send := func() error {
			bytes = 0
			select {
			case chunks <- c:
				c = nil
				return nil
			case <-qctx.Done():
				return qctx.Err()
			}
		}
		err := r.job.Source.Query(qctx, r.plan.sql, r.plan.args, func(row []any) error {
			if len(row) != ncols+1 {
				return fmt.Errorf("engine: the query returned %d columns, expected %d", len(row), ncols+1)
			}
			if c == nil {
				select {
				case c = <-free:
					c.rows, c.vals = c.rows[:0], c.vals[:0]
				default:
					c = &rowChunk{rows: make([]extracted, 0, chunkRows), vals: make([]any, 0, chunkRows*ncols)}
				}
			}
			key, null := keyText(row[0])
			start := len(c.vals)
			for _, v := range row[1:] {
				if b, ok := v.([]byte); ok {
					v = string(b) // own it: the driver reuses its buffers
				}
				c.vals = append(c.vals, v)
			}
			vals := c.vals[start:len(c.vals):len(c.vals)]
			bytes += rowSize(key, vals)
			c.rows = append(c.rows, extracted{key: key, null: null, vals: vals})
			if len(c.rows) == chunkRows || bytes >= chunkBytes {
				return send()
			}
			return nil
		})
		if err == nil && c != nil && len(c.rows) > 0 {
			err = send()
		}
		done <- err
	}()

	// Until the warehouse sends its first rows (a big query can take minutes), and
	// whenever the next rows are slow to come, the run renews its lease every second and
	// says what it waits for: else another instance would take the run over.
	r.setQuerying(&Wait{Kind: WaitQuery, Object: r.job.SourceName, Since: r.opts.Now()})
	defer r.setQuerying(nil)
	beat := time.NewTicker(awaitBeat)
	defer beat.Stop()
	var ce *connectors.Error
	rows := false
read:
	for {
		var c *rowChunk
		select {
		case next, ok := <-chunks:
			if !ok {
				break read
			}
			c = next
		case <-beat.C:
			if ce == nil {
				if ce = r.progress(ctx); ce != nil {
					cancel()
				}
			}
			continue
		}
		if !rows {
			rows = true
			r.setQuerying(nil)
			r.reportWait(ctx)
		}
		if ce != nil {
			continue // drain, so the reader can stop
		}
		for _, row := range c.rows {
			if ce = r.take(ctx, row); ce != nil {
				cancel()
				break
			}
		}
		// take keeps no row of the chunk (the row it holds is copied), so it can go back.
		select {
		case free <- c:
		default:
		}
	}
	err := <-done
	if ce != nil {
		return ce
	}
	if err != nil {
		return r.sourceError(ctx, err)
	}
	if ctx.Err() != nil {
		return stopError(ctx.Err())
	}
	return r.settleGroup(ctx)
}

func (r *run) sourceError(ctx context.Context, err error) *connectors.Error {
	if ctx.Err() != nil {
		return stopError(ctx.Err())
	}
	if ce, ok := connectors.AsError(err); ok {
		return r.blame(SideSource, ce)
	}
	return r.blame(SideSource, &connectors.Error{Category: connectors.CategoryConnection,
		Message: "Reading the segment from the source failed.", Detail: err.Error(), Err: err})
}

// take receives one row in key order. Rows sharing a key are adjacent, so only the
// current key's first row is held until the next key shows whether it was alone.
func (r *run) take(ctx context.Context, row extracted) *connectors.Error {
	if row.null {
		r.counts.Queried++
		r.counts.SourceIssues++
		msg := fmt.Sprintf("The primary key %s is empty, so this row cannot be tracked; it is not sent.", r.job.PrimaryKey)
		r.issue(ctx, Issue{Stage: IssueStageSource, Code: CodeMissingKey, Field: r.job.PrimaryKey, Message: msg})
		r.change(ctx, Change{Kind: ChangeWithheld, Detail: msg})
		return r.tick(ctx, 1)
	}
	if r.curHas {
		if row.key == r.cur.key {
			r.curN++
			return nil
		}
		if row.key < r.cur.key {
			return r.internal("The source returned rows out of the order Sluice asked for.",
				fmt.Sprintf("key %q came after %q; the extraction query orders by %s", row.key, r.cur.key,
					r.plan.sql[strings.LastIndex(r.plan.sql, " ORDER BY ")+len(" ORDER BY "):]))
		}
		if ce := r.settleGroup(ctx); ce != nil {
			return ce
		}
	}
	// Hold the row's values in a buffer of the run's own: the chunk they are in is
	// reused once read.
	r.held = append(r.held[:0], row.vals...)
	row.vals = r.held
	r.cur, r.curN, r.curHas = row, 1, true
	return nil
}

// settleGroup decides the fate of the held key: withheld as a duplicate, withheld as
// invalid, unchanged, added or changed.
func (r *run) settleGroup(ctx context.Context) *connectors.Error {
	if !r.curHas {
		return nil
	}
	row, n := r.cur, r.curN
	r.cur, r.curN, r.curHas = extracted{}, 0, false
	present, old, ce := r.merge(ctx, row.key)
	if ce != nil {
		return ce
	}
	if n > 1 {
		r.dups += n
		r.dupKey++
		msg := fmt.Sprintf("%d rows share the primary key %s; none of them is sent, since which one is right cannot be known.", n, quote(row.key))
		r.counts.Queried += n
		r.counts.SourceIssues += n
		for range n {
			r.issue(ctx, Issue{PrimaryKey: row.key, Stage: IssueStageSource, Code: CodeDuplicateKey, Field: r.job.PrimaryKey, Message: msg})
		}
		r.change(ctx, Change{PrimaryKey: row.key, Kind: ChangeWithheld, Detail: msg})
		return r.tick(ctx, n)
	}
	r.counts.Queried++
	norm, iss := r.validate(row.vals)
	if iss != nil {
		r.counts.SourceIssues++
		iss.PrimaryKey = row.key
		r.issue(ctx, *iss)
		r.change(ctx, Change{PrimaryKey: row.key, Kind: ChangeWithheld, Detail: iss.Message})
		return r.tick(ctx, 1)
	}
	h := r.hashRow(norm)
	if present && h == old {
		r.counts.Unchanged++
		return r.tick(ctx, 1)
	}
	kind := ChangeAdded
	if present && old != PendingAdded {
		kind = ChangeChanged
		r.counts.Changed++
	} else {
		r.counts.Added++
	}
	fields := make(map[string]any, len(norm))
	for i, f := range r.plan.fields {
		fields[f.to] = r.box(norm[i])
	}
	if ce := r.schedule(ctx, planned{rec: connectors.Record{Key: row.key, Op: connectors.OpUpsert, Fields: fields}, hash: h, kind: kind}); ce != nil {
		return ce
	}
	return r.tick(ctx, 1)
}

// keyText is a key's text form: what the extraction's first column holds (the
// warehouse's own text cast), or, for a source that answers with typed values, their
// usual text.
func keyText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, false
	case []byte:
		return string(x), false
	case int64:
		return strconv.FormatInt(x, 10), false
	case int:
		return strconv.Itoa(x), false
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10), false
		}
		return strconv.FormatFloat(x, 'g', -1, 64), false
	case bool:
		return strconv.FormatBool(x), false
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), false
	}
	return fmt.Sprint(v), false
}
