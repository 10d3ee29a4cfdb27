package models

import "slices"

// Role is what a user or an API token may do. Each role includes the ones below it:
// viewer reads, operator also runs/pauses, editor also builds models, segments and
// activations, admin also manages sources, platforms, users, alerts, tokens and the audit log.
type Role string

// The roles, lowest first.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleEditor   Role = "editor"
	RoleAdmin    Role = "admin"
)

// Roles lists every role, highest first, for pickers.
var Roles = []Role{RoleAdmin, RoleEditor, RoleOperator, RoleViewer}

func (r Role) rank() int { return len(Roles) - slices.Index(Roles, r) }

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// AtLeast reports whether r includes everything min may do.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// Label is the role's display name.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "Admin"
	case RoleEditor:
		return "Editor"
	case RoleOperator:
		return "Operator"
	case RoleViewer:
		return "Viewer"
	}
	return string(r)
}

// Description says in a few words what the role may do.
func (r Role) Description() string {
	switch r {
	case RoleAdmin:
		return "Everything, including sources, platforms, users, alerts, API tokens and the audit log"
	case RoleEditor:
		return "Builds models, segments and activations"
	case RoleOperator:
		return "Runs, re-runs, pauses and resumes activations"
	case RoleViewer:
		return "Reads everything, changes nothing"
	}
	return ""
}
