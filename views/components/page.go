// Package components holds the partials every page shares, and the page context that
// handlers hand to views (who is signed in, the CSRF token, flashes, route reversal).
package components

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sluice/connectors"
	"sluice/models"
)

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // success, error, info, warning
	Message string
}

// Page is what every view may know about the request it renders for.
type Page struct {
	User      *models.User
	Workspace *models.Workspace
	// Workspaces are the signed-in user's workspaces when they have more than one (the
	// frame's switcher), else nil.
	Workspaces []models.MemberWorkspace
	CSRF       string
	Path       string
	Flashes    []Flash
	Reverse    func(name string, params ...any) string
}

type pageKey struct{}

// WithPage stores the page context for the views rendered under ctx.
func WithPage(ctx context.Context, p *Page) context.Context {
	return context.WithValue(ctx, pageKey{}, p)
}

// PageOf returns the page context, or an empty one (views never dereference nil).
func PageOf(ctx context.Context) *Page {
	if p, ok := ctx.Value(pageKey{}).(*Page); ok {
		return p
	}
	return &Page{Reverse: func(name string, _ ...any) string { return "/" }}
}

// URL reverses a named route, e.g. URL(ctx, "users.update", id).
func URL(ctx context.Context, name string, params ...any) string {
	return PageOf(ctx).Reverse(name, params...)
}

// Can reports whether the signed-in user has at least role.
func Can(ctx context.Context, role models.Role) bool {
	p := PageOf(ctx)
	return p.User != nil && p.User.Role.AtLeast(role)
}

// Owner reports whether the signed-in user owns the organization.
func Owner(ctx context.Context) bool {
	p := PageOf(ctx)
	return p.User != nil && p.User.Owner
}

// Active reports whether the nav entry for prefix is the current section.
func Active(ctx context.Context, prefix string) bool {
	path := PageOf(ctx).Path
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// FormErrors maps a field name to the message shown beside it.
type FormErrors map[string]string

// FormatTime renders a time for tables: "28 Nov 2026, 18:40 UTC".
func FormatTime(t time.Time) string {
	var buf [32]byte // on the stack: the string is the one allocation
	return string(appendTime(buf[:0], t))
}

// FormatTimePtr renders an optional time, "Never" when absent.
func FormatTimePtr(t *time.Time) string {
	var buf [32]byte
	return string(AppendTimePtr(buf[:0], t))
}

// AppendTimePtr appends FormatTimePtr's text to b, for views that write rows by hand.
func AppendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "Never"...)
	}
	return appendTime(b, *t)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "—"...)
	}
	return t.UTC().AppendFormat(b, "2 Jan 2006, 15:04 UTC")
}

// RoleBadgeClass picks the badge colour of a role.
func RoleBadgeClass(r models.Role) string {
	switch r {
	case models.RoleAdmin:
		return "badge badge-indigo"
	case models.RoleEditor:
		return "badge badge-blue"
	case models.RoleOperator:
		return "badge badge-green"
	}
	return "badge badge-gray"
}

// Plural writes "1 user" or "3 users".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func inputType(f connectors.FieldSpec) string {
	if f.Type == connectors.FieldInt {
		return "number"
	}
	return "text"
}

// secretPlaceholder tells whether a secret is stored, without showing it.
func secretPlaceholder(stored bool) string {
	if stored {
		return "•••••••• stored — leave empty to keep it"
	}
	return ""
}

// ScanSize says a number of bytes as a warehouse's bill does: 1.5 GB, 320 MB (powers
// of 1,000, as BigQuery bills).
func ScanSize(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if n == 1 {
		return "1 byte"
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// CanCopy reports whether the signed-in user may copy from this workspace: editor (or
// above) here and in another workspace of the organization.
func CanCopy(ctx context.Context) bool {
	p := PageOf(ctx)
	if !Can(ctx, models.RoleEditor) || p.Workspace == nil {
		return false
	}
	for _, w := range p.Workspaces {
		if w.ID != p.Workspace.ID && w.OrganizationID == p.Workspace.OrganizationID && w.Role.AtLeast(models.RoleEditor) {
			return true
		}
	}
	return false
}
