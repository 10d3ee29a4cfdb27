package models

import (
	"errors"
	"fmt"
)

// ErrInvalid marks input the store refuses; FieldError says which field and why.
var ErrInvalid = errors.New("invalid input")

// FieldError is a validation failure of one input field, shown beside that field in
// forms and as {"error": {"field": …}} in the API.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Unwrap lets errors.Is(err, ErrInvalid) match every field error.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, msg string) error { return &FieldError{Field: field, Message: msg} }

// IsNotFound reports whether err means the object does not exist in the workspace.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
