package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Actor is who makes a change: a signed-in user, an API token, or Sluice itself.
type Actor struct {
	WorkspaceID string
	Type        string // "user", "token" or "system"
	ID          string
	Name        string
	Role        Role
}

// Actor types.
const (
	ActorUser   = "user"
	ActorToken  = "token"
	ActorSystem = "system"
)

// AuditEntry is one recorded change. Before and After are JSON snapshots that never
// hold secrets: each resource passes an audit view of itself.
type AuditEntry struct {
	ID          string
	WorkspaceID string
	// OrganizationID puts the entry in its organization's trail, which outlives the
	// workspace: set for changes of the organization and its workspaces, and on every
	// entry of a workspace when it is deleted. Empty otherwise.
	OrganizationID string
	At             time.Time
	ActorType      string
	ActorID        string
	ActorName      string
	Action         string
	ResourceType   string
	ResourceID     string
	ResourceName   string
	BeforeJSON     *string
	AfterJSON      *string
}

// change describes one audited write.
type change struct {
	action, resourceType, resourceID, resourceName string
	before, after                                  any
}

// record writes the audit entry for a change in the caller's transaction, so a change
// and its entry land together or not at all.
func (s *Store) record(tx *gorm.DB, a Actor, c change) error {
	return s.recordOrg(tx, a, "", c)
}

// recordOrg records a change that also belongs to the organization's audit trail.
func (s *Store) recordOrg(tx *gorm.DB, a Actor, org string, c change) error {
	e := AuditEntry{
		ID: newID(), WorkspaceID: a.WorkspaceID, OrganizationID: org, At: s.now(),
		ActorType: a.Type, ActorID: a.ID, ActorName: a.Name,
		Action: c.action, ResourceType: c.resourceType, ResourceID: c.resourceID, ResourceName: c.resourceName,
	}
	var err error
	if e.BeforeJSON, err = snapshot(c.before); err != nil {
		return err
	}
	if e.AfterJSON, err = snapshot(c.after); err != nil {
		return err
	}
	return translate(tx.Create(&e).Error)
}

func snapshot(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("models: audit snapshot: %w", err)
	}
	s := string(b)
	return &s, nil
}

// AuditFilter narrows the audit log. Zero fields do not filter.
type AuditFilter struct {
	ActorID      string
	ResourceType string
	From, To     time.Time // To is exclusive
	Cursor       string
	Limit        int
}

// ListAuditEntries returns a workspace's entries, newest first, a page at a time.
func (s *Store) ListAuditEntries(ctx context.Context, workspaceID string, f AuditFilter) ([]AuditEntry, string, error) {
	limit := clampLimit(f.Limit)
	q := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID)
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.ResourceType != "" {
		q = q.Where("resource_type = ?", f.ResourceType)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("at < ? OR (at = ? AND id < ?)", at, at, id)
	}
	var entries []AuditEntry
	if err := q.Order("at DESC, id DESC").Limit(limit + 1).Find(&entries).Error; err != nil {
		return nil, "", fmt.Errorf("models: list audit entries: %w", err)
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1]
		next = encodeCursor(last.At, last.ID)
	}
	return entries, next, nil
}

// AuditResourceTypes lists the resource types that appear in a workspace's log, for filters.
func (s *Store) AuditResourceTypes(ctx context.Context, workspaceID string) ([]string, error) {
	var types []string
	err := s.db.WithContext(ctx).Model(&AuditEntry{}).Where("workspace_id = ?", workspaceID).
		Distinct("resource_type").Order("resource_type").Pluck("resource_type", &types).Error
	return types, translate(err)
}

// AuditActor is one who appears in the audit log.
type AuditActor struct {
	ActorID   string
	ActorName string
	ActorType string
}

// AuditActors lists who appears in a workspace's log, for filters.
func (s *Store) AuditActors(ctx context.Context, workspaceID string) ([]AuditActor, error) {
	var actors []AuditActor
	err := s.db.WithContext(ctx).Model(&AuditEntry{}).Where("workspace_id = ? AND actor_id <> ''", workspaceID).
		Distinct("actor_id", "actor_name", "actor_type").Order("actor_name").Find(&actors).Error
	return actors, translate(err)
}

// ErrBadCursor means a pagination cursor was not made by this server.
var ErrBadCursor = fmt.Errorf("%w: invalid cursor", ErrInvalid)

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}

// clampLimit applies API.md's list limits: default 50, at most 500.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}
