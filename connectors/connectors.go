// Package connectors is the contract every source and destination connector meets:
// specs that drive the forms, errors with categories, and the registry of kinds.
// Connectors import this package (and net/http, oauth2), never models or gorm.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Category is the activation-level error category of DESIGN.md, as the seed labels it.
type Category string

// The six categories.
const (
	CategoryConnection    Category = "connection"
	CategoryCredentials   Category = "credentials"
	CategoryRateLimit     Category = "rate_limit"
	CategoryConfiguration Category = "configuration"
	CategoryTimeout       Category = "timeout"
	CategoryNotFound      Category = "not_found"
)

// CategoryInternal is a run that Sluice itself got wrong (its counts did not balance, the
// warehouse returned keys out of the order asked for). It is Sluice's own, never a
// connector's, and not one of the six: no setting of the user's fixes it.
const CategoryInternal Category = "internal"

// Label is the category's name as users read it.
func (c Category) Label() string {
	switch c {
	case CategoryConnection:
		return "Connection Error"
	case CategoryCredentials:
		return "Bad Credentials/Insufficient permissions"
	case CategoryRateLimit:
		return "Rate Limit"
	case CategoryConfiguration:
		return "Configuration Errors"
	case CategoryTimeout:
		return "Timeouts"
	case CategoryNotFound:
		return "Resource Not Found"
	case CategoryInternal:
		return "Sluice Error"
	}
	return string(c)
}

// Error is what a connector reports when something outside Sluice went wrong: a
// category, a plain-language message for the user, the raw detail for the run log,
// and whether trying again can help.
type Error struct {
	Category  Category
	Message   string
	Detail    string
	Retryable bool
	// Field names the config field at fault, when one is (e.g. "password").
	Field string
	// RetryAfter is how long the destination asked to wait (429, Retry-After), 0 if it did not.
	RetryAfter time.Duration
	// Exchange is the failing request and answer, for the debugger (destinations only).
	Exchange *Exchange
	Err      error
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Category, e.Message, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Category, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// AsError finds the connector error in err's chain.
func AsError(err error) (*Error, bool) {
	var ce *Error
	ok := errors.As(err, &ce)
	return ce, ok
}

// UserMessage is what a user may read of err: a connector error's plain-language
// Message, or fallback for any other error, whose text is written for developers and
// belongs in the log or the run's detail.
func UserMessage(err error, fallback string) string {
	if ce, ok := AsError(err); ok && ce.Message != "" {
		return ce.Message
	}
	return fallback
}

// FieldType is how a config field is entered and stored.
type FieldType string

// Field types. Secret fields are encrypted at rest and never shown back. In any other
// field, a URL's user info and query string are secrets too: sealed, and shown masked
// (MaskURL), whatever the field's type.
const (
	FieldString   FieldType = "string"
	FieldInt      FieldType = "int"
	FieldPassword FieldType = "password"
	FieldSelect   FieldType = "select"
	FieldBool     FieldType = "bool"
	FieldText     FieldType = "text"
)

// FieldSpec describes one config field; forms and validation come from it.
type FieldSpec struct {
	Name     string
	Label    string
	Type     FieldType
	Required bool
	Secret   bool
	Default  string
	Options  []string
	Help     string
	// Generated marks a credential Sluice makes itself when the platform is created (see
	// GeneratedValue): never asked for, never shown, sealed like any secret.
	Generated bool
	// Section groups fields a form shows apart from the kind's own, under their own
	// heading ("ssh": the SSH tunnel's); empty for the kind's own fields.
	Section string
}

// GeneratedValue is a Generated field's value for the platform id: the id, a dot and
// the random token, so that whoever is presented the value knows which platform's
// stored value to compare it with.
func GeneratedValue(id, random string) string { return id + "." + random }

// Config holds a connector's settings, secrets included (decrypted only in memory).
type Config map[string]string

// Validate checks required fields and select options against the spec.
func (c Config) Validate(fields []FieldSpec) error {
	for _, f := range fields {
		v := c[f.Name]
		if v == "" && f.Default != "" {
			c[f.Name] = f.Default
			v = f.Default
		}
		if f.Required && v == "" {
			return &Error{Category: CategoryConfiguration, Field: f.Name, Message: f.Label + " is required."}
		}
		if !f.Secret && URLIsMasked(v) {
			return &Error{Category: CategoryConfiguration, Field: f.Name, Message: f.Label + " shows " + URLMask + " where its credentials were: Sluice keeps them only when the URL is left exactly as shown. To change the URL, write it in full, with its credentials."}
		}
		if f.Type == FieldSelect && v != "" && !contains(f.Options, v) {
			return &Error{Category: CategoryConfiguration, Field: f.Name, Message: fmt.Sprintf("%s must be one of %v.", f.Label, f.Options)}
		}
		if f.Type == FieldInt && v != "" {
			var n int
			if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != v {
				return &Error{Category: CategoryConfiguration, Field: f.Name, Message: f.Label + " must be a whole number."}
			}
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Registry maps kinds to connectors. main builds one and passes it down.
type Registry struct {
	sources      map[string]SourceConnector
	destinations map[string]DestinationConnector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{sources: map[string]SourceConnector{}, destinations: map[string]DestinationConnector{}}
}

// RegisterDestination adds a destination kind; registering a kind twice is a programming error.
func (r *Registry) RegisterDestination(c DestinationConnector) {
	kind := c.Spec().Kind
	if _, dup := r.destinations[kind]; dup {
		panic("connectors: destination kind registered twice: " + kind)
	}
	r.destinations[kind] = c
}

// Destination returns the connector of a kind.
func (r *Registry) Destination(kind string) (DestinationConnector, bool) {
	c, ok := r.destinations[kind]
	return c, ok
}

// DestinationSpec is the spec of a destination kind; an unknown kind is a configuration
// error on the field "kind".
func (r *Registry) DestinationSpec(kind string) (DestinationSpec, error) {
	c, ok := r.destinations[kind]
	if !ok {
		return DestinationSpec{}, unknownKind("platform", kind)
	}
	return c.Spec(), nil
}

// OpenDestination opens a platform of a kind with its config (secrets decrypted) and,
// for an OAuth kind, its tokens. An unknown kind is a configuration error on the field
// "kind"; anything else is the connector's Open's answer.
func (r *Registry) OpenDestination(ctx context.Context, kind string, cfg Config, tokens Tokens) (Destination, error) {
	c, ok := r.destinations[kind]
	if !ok {
		return nil, unknownKind("platform", kind)
	}
	return c.Open(ctx, cfg, tokens)
}

// DestinationSpecs lists every destination kind, by label.
func (r *Registry) DestinationSpecs() []DestinationSpec {
	specs := make([]DestinationSpec, 0, len(r.destinations))
	for _, c := range r.destinations {
		specs = append(specs, c.Spec())
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Label < specs[j].Label })
	return specs
}

// RegisterSource adds a source kind; registering a kind twice is a programming error.
func (r *Registry) RegisterSource(c SourceConnector) {
	kind := c.Spec().Kind
	if _, dup := r.sources[kind]; dup {
		panic("connectors: source kind registered twice: " + kind)
	}
	r.sources[kind] = c
}

// Source returns the connector of a kind.
func (r *Registry) Source(kind string) (SourceConnector, bool) {
	c, ok := r.sources[kind]
	return c, ok
}

// SourceSpec is the spec of a source kind; an unknown kind is a configuration error on
// the field "kind".
func (r *Registry) SourceSpec(kind string) (SourceSpec, error) {
	c, ok := r.sources[kind]
	if !ok {
		return SourceSpec{}, unknownKind("source", kind)
	}
	return c.Spec(), nil
}

// OpenSource opens a source of a kind with its config (secrets decrypted). An unknown
// kind is a configuration error on the field "kind"; anything else is the connector's
// Open's answer.
func (r *Registry) OpenSource(ctx context.Context, kind string, cfg Config) (Source, error) {
	c, ok := r.sources[kind]
	if !ok {
		return nil, unknownKind("source", kind)
	}
	return c.Open(ctx, cfg)
}

// unknownKind is the error for a kind no connector of this build registered: a saved
// source or platform of a kind since removed, or a form posting a kind that never was.
func unknownKind(what, kind string) *Error {
	return &Error{Category: CategoryConfiguration, Field: "kind",
		Message: fmt.Sprintf("Sluice has no %s of the kind %q: this build does not include that connector.", what, kind)}
}

// SourceSpecs lists every source kind, by label.
func (r *Registry) SourceSpecs() []SourceSpec {
	specs := make([]SourceSpec, 0, len(r.sources))
	for _, c := range r.sources {
		specs = append(specs, c.Spec())
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Label < specs[j].Label })
	return specs
}
