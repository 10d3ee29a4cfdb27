// Package engine runs one activation run: extract → duplicate keys → validate → diff →
// load → commit → finish (DESIGN.md "A run, step by step"). It talks to the warehouse
// and the platform through connectors, and to Sluice's own records through the narrow
// interfaces below, so it never imports models or gorm.
package engine

import (
	"context"
	"time"

	"sluice/connectors"
	"sluice/segments"
)

// Mapping sends one model column to one destination field.
type Mapping struct {
	From string               // model column
	To   string               // destination field
	Kind connectors.FieldKind // what the destination expects there
}

// Settings are an activation's run options.
type Settings struct {
	// DefaultRegion is the ISO country used to read phone numbers without "+" (e.g. "FR").
	DefaultRegion string
	// SendRemovals sends records that left the segment as removals (when the action can).
	SendRemovals bool
	// FullResync ignores the stored state: every record is sent again.
	FullResync bool
	// Action is the activation's values of Job.Action's Settings, passed in every Batch.
	Action map[string]string
}

// Job is everything one run needs, opened and resolved by the caller.
type Job struct {
	RunID        string
	ActivationID string

	Source     connectors.Source
	Relation   connectors.Relation
	Columns    []connectors.Column
	PrimaryKey string
	Condition  segments.Condition

	Destination connectors.Destination
	Action      connectors.Action
	Mappings    []Mapping
	Settings    Settings
	// Limiter is the platform's, shared by all its activations (nil: unpaced).
	Limiter Limiter
	// SourceName and DestinationName name the two ends in what the run reports while it
	// waits for one of them (Wait.Object); empty leaves them unnamed.
	SourceName      string
	DestinationName string
}

// Limiter paces a platform's requests (connectors.Limiter).
type Limiter interface {
	// Wait blocks until one request may go, or ctx ends.
	Wait(ctx context.Context) error
	// Backoff holds every request to the platform for d: it answered 429 and asked to wait.
	Backoff(d time.Duration)
}

// KeyHash is a record's key and the hash of the payload the destination acknowledged.
type KeyHash struct {
	Key  string
	Hash uint64
}

// Hashes that mark a change sent whose outcome is not known yet. Before each Write the
// engine stores the batch's intents: each record with one of these. Once the answer is
// known, it commits the acknowledged records' real hashes (never 0 or 1) or removals,
// and drops the intents. A Write can reach the destination and its answer be lost (a
// timeout, a crash before the commit); with the intent stored, the next run resends
// such a record whatever happened to its row meanwhile, instead of trusting a hash the
// destination may no longer match.
const (
	// PendingAdded marks a record sent as new or as a removal: it may or may not be at
	// the destination. If it is in the segment next run, it is added again; if not,
	// removed again.
	PendingAdded uint64 = 0
	// PendingChanged marks a record sent as changed: the destination holds it, with the
	// old or the new payload. Next run it is sent again as changed.
	PendingChanged uint64 = 1
)

// Intent is a batch's records with their pending marks, stored before it is sent, and
// what the state holds once the platform acknowledges every record as sent (Planned),
// so that the answer stored after the send is one byte in the common case.
type Intent struct {
	Batch   string // unique across runs
	Keys    []KeyHash
	Planned Answer
}

// Answer is what a sent batch's answer does to the state: the keys acknowledged (with
// their hashes, or the pending marks of records whose fate is not known) and removed.
// AsPlanned says it is the intent's Planned answer: every record acknowledged.
type Answer struct {
	AsPlanned bool
	Upserts   []KeyHash
	Removed   []string
}

// Commit is one transaction on the state.
type Commit struct {
	// Intents of batches about to be sent.
	Intents []Intent
	// Upserts and Removed: acknowledged records, and the pending marks of records whose
	// fate stays unknown (a Write that failed in a way that does not say whether it
	// was applied). A key is never both.
	Upserts []KeyHash
	Removed []string
	// Settled names batches whose intents are dropped: their outcome is in this commit,
	// and a record in no list (refused, or not sent for sure) keeps its stored state.
	Settled []string
}

// State is the diff state of one activation: what the destination has acknowledged.
//
// The engine merges Scan with the warehouse's stream, so Commit is called while a Scan
// is still under way: Scan runs in a goroutine of its own, a few thousand keys ahead of
// the merge, and Commit may run at the same time from another goroutine. Scan must
// tolerate that: read a snapshot, or page by key after the last key it yielded; it must
// not hold, across calls of fn, a lock or the only database connection Commit needs.
// Commit only touches keys Scan has already passed or will never yield again.
type State interface {
	// Scan calls fn for every stored key in byte order of the key (the order the engine
	// asks the warehouse for: Go's string comparison), stopping at the first error.
	// Intents never settled (the run that stored them stopped) count as stored: each
	// of their keys is yielded with its pending mark.
	Scan(ctx context.Context, activationID string, fn func(KeyHash) error) error
	// Commit applies c whole or not at all (one transaction).
	Commit(ctx context.Context, activationID string, c Commit) error
	// Answer stores a sent batch's answer beside its intents. The engine calls it before
	// it sends the next batch, so it must be cheap (one small write: an answer AsPlanned
	// need not carry its keys, the intent holds them); a later Commit settling the batch
	// applies the same answer and drops it. A batch whose answer is stored and not
	// settled (the process died) counts as answered: Scan yields what it acknowledged,
	// not its pending marks.
	Answer(ctx context.Context, activationID, batch string, a Answer) error
	// Reset forgets everything (full resync).
	Reset(ctx context.Context, activationID string) error
}

// Stage names, for progress and logs.
const (
	StagePreflight = "preflight"
	StageExtract   = "extract"
	StageLoad      = "load"
	StageCommit    = "commit"
	StageFinish    = "finish"
)

// Issue is one record not delivered: a source issue (stage "source") or a destination
// rejection (stage "destination").
type Issue struct {
	PrimaryKey string
	Stage      string
	Code       string
	Field      string
	Message    string
}

// Issue codes.
const (
	CodeDuplicateKey    = "duplicate_primary_key"
	CodeInvalidEmail    = "invalid_email"
	CodeInvalidPhone    = "invalid_phone"
	CodeMissingRequired = "missing_required_field"
	CodeWrongType       = "wrong_type"
	CodeRejected        = "rejected"
	// CodeMissingKey is a row whose primary key is NULL: it cannot be tracked, so it is
	// never sent.
	CodeMissingKey = "missing_primary_key"
)

// Change kinds.
const (
	ChangeAdded    = "added"
	ChangeChanged  = "changed"
	ChangeRemoved  = "removed"
	ChangeRejected = "rejected"
	ChangeWithheld = "withheld"
)

// Issue stages.
const (
	IssueStageSource      = "source"
	IssueStageDestination = "destination"
)

// CategoryInternal is the category of a run that Sluice itself got wrong.
const CategoryInternal = connectors.CategoryInternal

// Change is one key's fate in a run, for the record timeline.
type Change struct {
	PrimaryKey string
	Kind       string // added, changed, removed, rejected, withheld
	Detail     string
}

// LogLine is one line of the run log, in plain words.
type LogLine struct {
	At      time.Time
	Level   string // info, warn, error
	Message string
}

// Recorder takes a run's outputs as they come; implementations batch their writes.
type Recorder interface {
	// Progress reports the stage and the records processed so far; it also renews the
	// run's lease, and an error stops the run (e.g. the lease was lost or cancelled).
	Progress(ctx context.Context, stage string, processed int64) error
	Issues(ctx context.Context, issues []Issue) error
	Changes(ctx context.Context, changes []Change) error
	Log(ctx context.Context, line LogLine) error
	// Sample keeps a request and its answer for the debugger.
	Sample(ctx context.Context, ex connectors.Exchange) error
	// Waiting says what the run waits for now, nil when it stopped waiting. The run
	// reports a wait once it has lasted WaitThreshold (a retry's pause at once), a new
	// wait at most about once a second, and clears it when the wait ends and before it
	// returns. A failure to record it does not stop the run.
	Waiting(ctx context.Context, w *Wait)
}

// What a run can wait for (Wait.Kind).
const (
	// WaitRequest is a request to the destination not answered yet.
	WaitRequest = "destination_request"
	// WaitBackoff is the pause before a request is tried again, after the destination
	// answered 429 or 5xx, or did not answer.
	WaitBackoff = "retry_backoff"
	// WaitQuery is the segment's query, before the source sent its first rows.
	WaitQuery = "warehouse_query"
)

// WaitThreshold is how long a request or a query waits before the run reports it.
const WaitThreshold = 2 * time.Second

// Wait is what a run is waiting for.
type Wait struct {
	Kind string
	// Object names the end waited for: Job.DestinationName, or Job.SourceName.
	Object string
	Since  time.Time
	// Until is when a retry's pause ends (zero for the other kinds).
	Until time.Time
	// Timeout is how long a request may take before it is given up (0: not known).
	Timeout time.Duration
	// Attempt of MaxAttempts: the request under way, or the one the pause comes before.
	Attempt, MaxAttempts int
	// LastAnswer is the destination's last answer to the batch, e.g. "503 Service
	// Unavailable" or "timed out" (empty before the first).
	LastAnswer string
}

// Counts obey the two accounting equations of DESIGN.md:
// Queried = Added + Changed + Unchanged + SourceIssues, and
// Added + Changed + Removed = Sent + Rejected + Unsent.
type Counts struct {
	Queried      int64 `json:"queried"`
	Added        int64 `json:"added"`
	Changed      int64 `json:"changed"`
	Removed      int64 `json:"removed"`
	Unchanged    int64 `json:"unchanged"`
	Sent         int64 `json:"sent"`
	Rejected     int64 `json:"rejected"`
	Unsent       int64 `json:"unsent"`
	SourceIssues int64 `json:"source_issues"`
}

// Balanced reports whether both equations hold.
func (c Counts) Balanced() bool {
	return c.Queried == c.Added+c.Changed+c.Unchanged+c.SourceIssues &&
		c.Added+c.Changed+c.Removed == c.Sent+c.Rejected+c.Unsent
}

// Result is how a run ended.
type Result struct {
	Counts Counts
	// Err is the error that failed the run (nil when it completed), with its category.
	// A run stopped by its context or by Recorder.Progress wraps that cause in Err.Err:
	// errors.Is(res.Err, context.Canceled) tells a cancelled run.
	Err *connectors.Error
	// DuplicateKeys counts the rows withheld because they share a primary key (part of
	// SourceIssues); more than zero means the model should be flagged.
	DuplicateKeys int64
	// Side is which end Err came from (SideSource, SideDestination, SideActivation,
	// SideSluice), so its fix points there: a permission error reading the warehouse is
	// the source's to fix, not the platform's. Empty when Err is nil.
	Side string
}

// Sides a run's error can come from.
const (
	// SideSource is the warehouse: the segment's query failed.
	SideSource = "source"
	// SideDestination is the platform: a request failed for good.
	SideDestination = "destination"
	// SideActivation is the activation's own settings: its mapping, its segment, or a
	// setting of its action that the platform refused (a Write error whose Field names
	// one of Job.Action's Settings).
	SideActivation = "activation"
	// SideSluice is Sluice itself: its own database, its lease, its accounting.
	SideSluice = "sluice"
)
