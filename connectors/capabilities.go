package connectors

import (
	"context"
	"time"
)

// The optional capabilities. A connector implements those it needs: on its Dialect for
// a source, on its opened Destination for a platform. Callers assert them by these names,
// never by anonymous interfaces nor by switching on a kind, so what a connector can do
// is said in one place, and a new kind changes nothing outside its own package.
//
// connectortest checks each one a connector implements.

// KeyOrderer is a Dialect method the engine requires to sync from a source: the SQL
// expression of a primary key column's text form, ordered in byte order (Go's string
// order, the order the engine's stored state is scanned in, so that the two streams
// merge). column is already quoted and qualified ("m"."id").
//
// There is no default: SQL has no portable spelling of "compare bytes". A plain cast to
// text orders by the database's collation, which is locale-aware on PostgreSQL and
// case-insensitive on many engines, and a merge over keys in another order would
// report false additions and removals. Each dialect names its byte-order collation
// (PostgreSQL's "C", Redshift's case_sensitive, SQLite's BINARY).
type KeyOrderer interface {
	KeyTextSQL(column string) string
}

// RequestTimeouter is an optional Destination method: how long one request may take
// before it is given up, so that a run waiting for an answer can say when it will stop
// waiting.
type RequestTimeouter interface {
	RequestTimeout() time.Duration
}

// LikeEscaper is an optional Dialect method: the clause that follows a LIKE pattern to
// make backslash its escape character, with its leading space (` ESCAPE '\'`), or "" when
// backslash already is the default and the standard spelling would not parse (Redshift's
// string literals read '\' as an escaped quote). Without it, the segment compiler writes
// ` ESCAPE '\'`: SQLite's LIKE has no escape character unless told, and the compiler
// escapes the %, _ and \ of a "contains" value with backslashes so they match themselves.
type LikeEscaper interface {
	LikeEscape() string
}

// TimeBinder is an optional Dialect method: the Go value a date or time operand is bound
// as, for drivers that do not compare time.Time with the column as the warehouse stores
// it (SQLite keeps dates as text, and its driver would bind a time.Time as text with a
// zone offset, which does not compare with 'YYYY-MM-DD'). typ is the column's type (date
// or timestamp); t is in UTC (midnight for a day). Without it, the segment compiler binds
// t itself.
type TimeBinder interface {
	BindTime(t time.Time, typ ColumnType) any
}

// CaseFolder is an optional Dialect method for warehouses whose SQL has no
// case-insensitive LIKE (GoogleSQL has no ILIKE): the expression of expr folded to one
// case (LOWER(expr)). With it, the segment compiler writes contains and starts_with as
// FoldCase(column) LIKE FoldCase(pattern), CaseInsensitiveLike being plain LIKE.
type CaseFolder interface {
	FoldCase(expr string) string
}

// ColumnDaysAgo is an optional Dialect method: DaysAgo for one column, for warehouses
// that do not compare their date and time types with one another (BigQuery compares a
// TIMESTAMP with neither DATE nor DATETIME), so "now minus N days" must be written in
// the column's type. col is the model's column; its Raw type is the warehouse's own
// name when the snapshot has it. Without it, the segment compiler uses DaysAgo.
type ColumnDaysAgo interface {
	DaysAgoFor(ph string, col Column) string
}

// Estimator is an optional Source method: the bytes a query would scan, asked of the
// warehouse without running it (BigQuery's dry run), for warehouses that bill by bytes
// read, so a segment's cost can be shown before it is saved ("this segment scans 2.1
// GB"). args are bound as Query binds them. The answer is the warehouse's estimate,
// before caching and clustering; an error is a *connectors.Error like Query's.
type Estimator interface {
	EstimateBytes(ctx context.Context, sql string, args []any) (int64, error)
}

// RateLimiter is an optional Destination method: the request rate this platform was
// configured with (the webhook's requests_per_second), which outranks the documented
// RequestsPerSecond and Burst of its kind's spec. A perSecond of 0 or less leaves the
// spec's rate in force. Use RateLimitOf rather than asserting it.
type RateLimiter interface {
	RateLimit() (perSecond float64, burst int)
}

// ConfiguredActions is an optional Destination method: the action called name as this
// platform's config shapes it (the webhook's batch size and removals), where the kind's
// spec can only give defaults. ok is false for a name it does not know. A destination
// whose Write refuses what its spec's action allows must implement it, or runs would
// build batches it refuses. Use ActionOf rather than asserting it.
type ConfiguredActions interface {
	Action(name string) (Action, bool)
}

// ActionOf is the action called name as dest does it: the spec's, replaced by dest's
// own when it implements ConfiguredActions and knows the name. ok is false when neither
// knows it.
func ActionOf(spec DestinationSpec, dest Destination, name string) (Action, bool) {
	var action Action
	found := false
	for _, a := range spec.Actions {
		if a.Name == name {
			action, found = a, true
			break
		}
	}
	if ca, ok := dest.(ConfiguredActions); ok {
		if a, ok := ca.Action(name); ok {
			action, found = a, true
		}
	}
	return action, found
}

// RateLimitOf is the rate one platform's requests share: dest's own when it implements
// RateLimiter with a positive rate, otherwise the spec's documented one. perSecond is 0
// when neither limits the rate; burst is at least 1.
func RateLimitOf(spec DestinationSpec, dest Destination) (perSecond float64, burst int) {
	perSecond, burst = spec.RequestsPerSecond, spec.Burst
	if rl, ok := dest.(RateLimiter); ok {
		if ps, b := rl.RateLimit(); ps > 0 {
			perSecond, burst = ps, b
		}
	}
	if perSecond <= 0 {
		perSecond = 0
	}
	return perSecond, max(burst, 1)
}

// HostKeyReporter is an optional Source method, for sources reached through an SSH
// tunnel: the host key the bastion presented at the source's last connection, as one
// authorized_keys line; "" when it made none. The caller pins it on first connect and
// keeps a different one for an admin to accept (the connector refuses a key that is
// not the pinned one).
type HostKeyReporter interface {
	PresentedHostKey() string
}
