package connectors

import "context"

// AuthKind is how a platform proves who it is.
type AuthKind string

// Auth kinds.
const (
	AuthNone   AuthKind = "none"
	AuthAPIKey AuthKind = "api_key"
	AuthOAuth  AuthKind = "oauth2"
)

// FieldKind is the type a destination field expects; validation and type checks of
// mappings follow it.
type FieldKind string

// Destination field kinds.
const (
	KindEmail    FieldKind = "email"
	KindPhone    FieldKind = "phone"
	KindString   FieldKind = "string"
	KindNumber   FieldKind = "number"
	KindBoolean  FieldKind = "boolean"
	KindDatetime FieldKind = "datetime"
)

// ActionField is one field an action sends.
type ActionField struct {
	Name     string    `json:"name"`
	Label    string    `json:"label"`
	Kind     FieldKind `json:"kind"`
	Required bool      `json:"required"`
	// Identifier fields identify the record at the destination (e.g. e-mail for an
	// audience); at least one must be mapped.
	Identifier bool `json:"identifier"`
}

// Action is something a destination can do with records, e.g. "sync_records".
type Action struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Fields the action knows; Custom allows mapping to any other field name too.
	Fields []ActionField `json:"fields"`
	Custom bool          `json:"custom"`
	// BatchSize is the most records per Write; MaxBatchBytes bounds the request size (0: none).
	BatchSize     int  `json:"batch_size"`
	MaxBatchBytes int  `json:"max_batch_bytes"`
	Removals      bool `json:"removals"`
	// Settings are what each activation chooses for this action, beyond its mappings:
	// the list, audience or conversion action at the platform, what records are matched
	// by. Their values reach Write in Batch.Settings. A Write error about one of them
	// names it in Error.Field: the activation's settings are then what to fix.
	Settings []FieldSpec `json:"settings,omitempty"`
}

// Option is one choice of an action setting.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// OptionLister is an optional Destination method: the choices of an action setting
// that names something at the platform (its lists, audiences, conversion actions), for
// the activation's form. ok is false for a setting without a list of choices; an error
// is a *Error, as Check's.
type OptionLister interface {
	Options(ctx context.Context, action, setting string) (options []Option, ok bool, err error)
}

// DestinationSpec describes a destination kind.
type DestinationSpec struct {
	Kind    string
	Label   string
	Auth    AuthKind
	Config  []FieldSpec // settings (some secret: credentials)
	Actions []Action
	// OAuth is how platforms of an AuthOAuth kind are authorized (nil for other kinds).
	OAuth *OAuthSpec
	// RequestsPerSecond and Burst pace requests under the documented rate limit, shared
	// by every activation of one platform and every instance of Sluice: chosen so that no
	// window the platform counts in ever sees more than its limit (a token bucket lets
	// Burst + RequestsPerSecond·W requests through in any window of W seconds).
	RequestsPerSecond float64
	Burst             int
}

// Op is what happens to a record at the destination.
type Op string

// Record operations.
const (
	OpUpsert Op = "upsert"
	OpRemove Op = "remove"
)

// Record is one record to send: its primary key, the operation and the mapped fields
// (already validated and normalized, e.g. phones in E.164).
type Record struct {
	Key    string         `json:"key"`
	Op     Op             `json:"op"`
	Fields map[string]any `json:"fields,omitempty"`
}

// Batch is one Write: records of one run for one action.
type Batch struct {
	ActivationID string
	RunID        string
	Action       string
	// Settings are the activation's values of the action's Settings.
	Settings map[string]string
	Records  []Record
}

// Rejection is a record the destination refused, in its own words.
type Rejection struct {
	Key     string
	Message string
}

// WriteResult is the destination's answer to a batch that it took (2xx): every record
// is acknowledged except the rejected ones.
type WriteResult struct {
	Rejected []Rejection
	// Exchange is the request and answer as sent and received, secrets redacted, for the
	// run page's debugger.
	Exchange *Exchange
}

// Exchange is one HTTP request and its answer, for the debugger.
type Exchange struct {
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	RequestBody    string            `json:"request_body"`
	StatusCode     int               `json:"status_code"`
	ResponseBody   string            `json:"response_body"`
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
}

// Destination is an open platform account.
type Destination interface {
	// Check verifies credentials and permissions.
	Check(ctx context.Context) error
	// Write sends one batch. A refusal of the whole batch is an *Error: its Category and
	// Retryable say what to do (429 and 5xx retryable; 401/403 credentials; 404
	// not_found; 400/422 configuration, which the engine splits to find bad records).
	// The *Error may carry RetryAfter and the Exchange.
	Write(ctx context.Context, b Batch) (*WriteResult, error)
	Close() error
}

// DestinationConnector opens platforms of one kind.
type DestinationConnector interface {
	Spec() DestinationSpec
	// Open opens a platform with its config (secrets decrypted). tokens is the platform's
	// access token for an AuthOAuth kind, asked for before each request (it changes when
	// refreshed), and nil for other kinds.
	Open(ctx context.Context, cfg Config, tokens Tokens) (Destination, error)
}
