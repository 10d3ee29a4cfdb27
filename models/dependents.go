package models

import (
	"fmt"
	"strings"
)

// Dependent is an object that uses another and blocks its deletion.
type Dependent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DependentsError refuses a deletion while others depend on the object; it wraps
// ErrConflict, and the API answers 409 listing the dependents.
type DependentsError struct {
	Dependents []Dependent
}

func (e *DependentsError) Error() string {
	names := make([]string, len(e.Dependents))
	for i, d := range e.Dependents {
		names[i] = fmt.Sprintf("%s %q", d.Type, d.Name)
	}
	return "still used by " + strings.Join(names, ", ")
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *DependentsError) Unwrap() error { return ErrConflict }
