package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Incident object types.
const (
	IncidentActivation = "activation"
	IncidentSource     = "source"
	IncidentPlatform   = "platform"
	IncidentModel      = "model"
)

// Incident statuses, for listing.
const (
	IncidentsOpen     = "open"
	IncidentsResolved = "resolved"
)

// IncidentReminderEvery is how often an incident still open is recalled: once a day.
const IncidentReminderEvery = 24 * time.Hour

// Incident is an alert that opened on a failure of a kind (an event and, for runs, an
// error category) on an object, and closes on its recovery.
type Incident struct {
	ID          string `gorm:"primaryKey"`
	WorkspaceID string
	ObjectType  string
	ObjectID    string
	ObjectName  string
	Event       string
	Category    string
	Message     string
	// RunID is the last run that failed this way, when a run did.
	RunID       string
	OpenedAt    time.Time
	LastSeenAt  time.Time
	Occurrences int
	RemindedAt  *time.Time
	ResolvedAt  *time.Time
}

// TableName is the incidents' table.
func (Incident) TableName() string { return "incidents" }

// Open reports whether the incident is still open.
func (i *Incident) Open() bool { return i.ResolvedAt == nil }

// IncidentEvent is a failure as it happens: what failed, how, and why in words.
type IncidentEvent struct {
	WorkspaceID, ObjectType, ObjectID, ObjectName string
	Event, Category, Message, RunID               string
}

// Notice kinds: what an incident's alerts say.
const (
	NoticeOpened   = "opened"
	NoticeReminder = "reminder"
	NoticeResolved = "resolved"
)

// AlertRecipient is one place an incident's alerts go: a channel and its target in clear.
type AlertRecipient struct {
	Channel, Target string
}

// IncidentNotice renders an incident's alert payload for a notice kind. It runs inside
// the incident's transaction and must not touch the database.
type IncidentNotice func(inc *Incident, kind string) ([]byte, error)

// IncidentChange is what OpenIncident or ResolveIncidents did.
type IncidentChange struct {
	Incident Incident
	// Notice is the kind of notice enqueued, or "" when the change was silent.
	Notice string
	Alerts int
}

// OpenIncident opens an incident for ev, or touches the one already open of its kind on
// its object. Opening enqueues the notice to every recipient in the same transaction,
// so the incident and its alerts commit together; a repeat only bumps occurrences and
// last_seen_at, except once a day while open, when it enqueues a reminder.
func (s *Store) OpenIncident(ctx context.Context, ev IncidentEvent, to []AlertRecipient, render IncidentNotice) (*IncidentChange, error) {
	if ev.WorkspaceID == "" || ev.ObjectType == "" || ev.ObjectID == "" || ev.Event == "" {
		return nil, errors.New("models: an incident needs a workspace, an object and an event")
	}
	var out *IncidentChange
	var err error
	for range 3 { // two instances opening the same incident: the loser touches it
		out, err = s.openIncident(ctx, ev, to, render)
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	return out, err
}

func (s *Store) openIncident(ctx context.Context, ev IncidentEvent, to []AlertRecipient, render IncidentNotice) (*IncidentChange, error) {
	out := &IncidentChange{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		var inc Incident
		err := tx.Where("workspace_id = ? AND object_type = ? AND object_id = ? AND event = ? AND category = ? AND resolved_at IS NULL",
			ev.WorkspaceID, ev.ObjectType, ev.ObjectID, ev.Event, ev.Category).Take(&inc).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			inc = Incident{ID: newID(), WorkspaceID: ev.WorkspaceID, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID, ObjectName: ev.ObjectName,
				Event: ev.Event, Category: ev.Category, Message: ev.Message, RunID: ev.RunID, OpenedAt: now, LastSeenAt: now, Occurrences: 1}
			if err := translate(tx.Create(&inc).Error); err != nil {
				return err
			}
			out.Notice = NoticeOpened
		case err != nil:
			return translate(err)
		default:
			inc.Occurrences++
			inc.LastSeenAt = now
			if ev.Message != "" {
				inc.Message = ev.Message
			}
			if ev.RunID != "" {
				inc.RunID = ev.RunID
			}
			if ev.ObjectName != "" {
				inc.ObjectName = ev.ObjectName
			}
			last := inc.OpenedAt
			if inc.RemindedAt != nil {
				last = *inc.RemindedAt
			}
			updates := map[string]any{"occurrences": inc.Occurrences, "last_seen_at": now, "message": inc.Message, "run_id": inc.RunID, "object_name": inc.ObjectName}
			if now.Sub(last) >= IncidentReminderEvery {
				inc.RemindedAt = &now
				updates["reminded_at"] = now
				out.Notice = NoticeReminder
			}
			if err := translate(tx.Model(&Incident{}).Where("id = ?", inc.ID).Updates(updates).Error); err != nil {
				return err
			}
		}
		out.Incident = inc
		if ev.RunID != "" {
			// The run's failure is alerted in this transaction: the sweep leaves it alone.
			if err := tx.Model(&Run{}).Where("id = ?", ev.RunID).Update("alerted_at", now).Error; err != nil {
				return translate(err)
			}
		}
		return s.enqueueNotice(tx, out, to, render)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) enqueueNotice(tx *gorm.DB, c *IncidentChange, to []AlertRecipient, render IncidentNotice) error {
	if c.Notice == "" || len(to) == 0 || render == nil {
		return nil
	}
	payload, err := render(&c.Incident, c.Notice)
	if err != nil {
		return err
	}
	alerts := make([]NewAlert, len(to))
	for i, r := range to {
		alerts[i] = NewAlert{WorkspaceID: c.Incident.WorkspaceID, Channel: r.Channel, Target: r.Target, Payload: payload}
	}
	sent, err := s.enqueueAlerts(tx, alerts...)
	c.Alerts = len(sent)
	return err
}

// ResolveIncidents closes the open incidents of an event on an object (of any category)
// and enqueues one resolved notice for each, in the same transaction. It answers the
// incidents it closed; none is a no-op.
func (s *Store) ResolveIncidents(ctx context.Context, workspaceID, objectType, objectID, event string, to []AlertRecipient, render IncidentNotice) ([]IncidentChange, error) {
	var out []IncidentChange
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		out = nil
		var open []Incident
		if err := tx.Where("workspace_id = ? AND object_type = ? AND object_id = ? AND event = ? AND resolved_at IS NULL",
			workspaceID, objectType, objectID, event).Order("opened_at, id").Find(&open).Error; err != nil {
			return translate(err)
		}
		now := s.now()
		for _, inc := range open {
			res := tx.Model(&Incident{}).Where("id = ? AND resolved_at IS NULL", inc.ID).Update("resolved_at", now)
			if res.Error != nil {
				return translate(res.Error)
			}
			if res.RowsAffected == 0 {
				continue // another instance resolved it
			}
			inc.ResolvedAt = &now
			c := IncidentChange{Incident: inc, Notice: NoticeResolved}
			if err := s.enqueueNotice(tx, &c, to, render); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// HasOpenIncident reports whether an event on an object has an open incident.
func (s *Store) HasOpenIncident(ctx context.Context, workspaceID, objectType, objectID, event string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Incident{}).Where("workspace_id = ? AND object_type = ? AND object_id = ? AND event = ? AND resolved_at IS NULL",
		workspaceID, objectType, objectID, event).Count(&n).Error
	return n > 0, translate(err)
}

// IncidentFilter pages the incident list.
type IncidentFilter struct {
	// Status is IncidentsOpen, IncidentsResolved or "" for both.
	Status string
	// ObjectType and ObjectID narrow the list to one object.
	ObjectType, ObjectID string
	Offset, Limit        int
}

// Incidents lists a workspace's incidents, newest first, one page at a time; total
// counts every match.
func (s *Store) Incidents(ctx context.Context, workspaceID string, f IncidentFilter) ([]Incident, int64, error) {
	q := filterIncidents(s.db.WithContext(ctx).Model(&Incident{}), workspaceID, f)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	var out []Incident
	err := q.Order("opened_at DESC, id DESC").Offset(max(f.Offset, 0)).Limit(f.Limit).Find(&out).Error
	return out, total, translate(err)
}

// filterIncidents narrows q to the workspace's incidents f asks for.
func filterIncidents(q *gorm.DB, workspaceID string, f IncidentFilter) *gorm.DB {
	q = q.Where("workspace_id = ?", workspaceID)
	switch f.Status {
	case IncidentsOpen:
		q = q.Where("resolved_at IS NULL")
	case IncidentsResolved:
		q = q.Where("resolved_at IS NOT NULL")
	}
	if f.ObjectType != "" {
		q = q.Where("object_type = ? AND object_id = ?", f.ObjectType, f.ObjectID)
	}
	return q
}

// IncidentCursor is where a page of incidents (newest first) ended: the last incident
// shown. The next page starts with the incident that sorts right after it, even when
// that one is gone.
type IncidentCursor struct {
	OpenedAt time.Time
	ID       string
}

// IncidentsBefore reads a keyset page of a workspace's incidents, newest first: up to
// limit of those f matches (Offset ignored) that sort after the cursor, from the start
// when it is nil. Unlike Incidents it counts nothing, so a page costs the same however
// many incidents the workspace has had.
func (s *Store) IncidentsBefore(ctx context.Context, workspaceID string, f IncidentFilter, cursor *IncidentCursor, limit int) ([]Incident, error) {
	q := filterIncidents(s.db.WithContext(ctx), workspaceID, f)
	if cursor != nil {
		q = q.Where("opened_at < ? OR (opened_at = ? AND id < ?)", cursor.OpenedAt, cursor.OpenedAt, cursor.ID)
	}
	var out []Incident
	err := q.Order("opened_at DESC, id DESC").Limit(max(1, min(limit, 200))).Find(&out).Error
	return out, translate(err)
}

// IncidentsOf lists the incidents of one object, newest first (at most limit).
func (s *Store) IncidentsOf(ctx context.Context, workspaceID, objectType, objectID string, limit int) ([]Incident, error) {
	out, _, err := s.Incidents(ctx, workspaceID, IncidentFilter{ObjectType: objectType, ObjectID: objectID, Limit: limit})
	return out, err
}

// ActivationCreator is the id of the user who created an activation, as the audit log
// records it; "" when Sluice or an API token created it.
func (s *Store) ActivationCreator(ctx context.Context, workspaceID, activationID string) (string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&AuditEntry{}).Where("workspace_id = ? AND action = ? AND resource_id = ? AND actor_type = ?",
		workspaceID, "activation.create", activationID, ActorUser).Order("at").Limit(1).Pluck("actor_id", &ids).Error
	if err != nil || len(ids) == 0 {
		return "", translate(err)
	}
	return ids[0], nil
}

// OpenIncidentOn is the oldest incident still open on an object, nil when none is: one
// query, for the object's page.
func (s *Store) OpenIncidentOn(ctx context.Context, workspaceID, objectType, objectID string) (*Incident, error) {
	var out []Incident
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND object_type = ? AND object_id = ? AND resolved_at IS NULL",
		workspaceID, objectType, objectID).Order("opened_at, id").Limit(1).Find(&out).Error
	if err != nil || len(out) == 0 {
		return nil, translate(err)
	}
	return &out[0], nil
}
