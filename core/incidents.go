package core

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"sluice/connectors"
	"sluice/models"
	"sluice/notify"
)

// SetAlerts sets the base URL alert links are built under (SLUICE_BASE_URL) and where
// failures to raise an incident are logged.
func (s *Service) SetAlerts(baseURL string, log *slog.Logger) {
	s.baseURL, s.log = strings.TrimRight(baseURL, "/"), log
}

// Incident is a failure to open (or touch) an incident for: what failed, how and why,
// with the run and the fix to link to.
type Incident struct {
	Event      models.IncidentEvent
	Activation *models.Activation // the activation concerned, for its override; nil for none
	Run        *models.Run        // the run that failed, when one did
	Counts     *models.RunCounts
	Fix        *models.FixPlace
	FixID      string
}

// RunEnded opens an incident on the activation for a failed or interrupted run, keyed
// by its error category, and resolves the activation's run incidents when it succeeded.
// act is loaded when nil.
// Errors are logged: an alert never changes a run's outcome.
func (s *Service) RunEnded(ctx context.Context, run *models.Run, act *models.Activation, o models.RunOutcome) {
	if act == nil { // the reaper's interrupted runs
		a, err := s.store.ActivationByID(ctx, run.WorkspaceID, run.ActivationID)
		if err != nil {
			s.logger().Error("find the run's activation", slog.Any("error", err))
			return
		}
		act = a
	}
	switch o.Status {
	case models.RunFailed, models.RunInterrupted:
	case models.RunSucceeded, models.RunWarnings:
		s.ResolveIncidents(ctx, run.WorkspaceID, models.IncidentActivation, act.ID, models.EventRunFailed, act)
		return
	default:
		return
	}
	msg := o.ErrorMessage
	if msg == "" {
		msg = "The run was interrupted before it finished; Sluice tries again at the next run."
	}
	in := Incident{Activation: act, Run: run, Counts: &o.Counts, Event: models.IncidentEvent{
		WorkspaceID: run.WorkspaceID, ObjectType: models.IncidentActivation, ObjectID: act.ID, ObjectName: act.Name,
		Event: models.EventRunFailed, Category: o.ErrorCategory, Message: msg, RunID: run.ID}}
	if place, ok := models.RunFixPlace(o.ErrorSide, o.ErrorCategory); ok {
		in.Fix, in.FixID = &place, s.fixObject(ctx, place.On, act, run.ID)
	}
	s.OpenIncident(ctx, in)
}

// fixObject is the id a fix page of act takes.
func (s *Service) fixObject(ctx context.Context, on models.FixOn, act *models.Activation, runID string) string {
	switch on {
	case models.FixOnPlatform:
		return act.PlatformID
	case models.FixOnActivation:
		return act.ID
	case models.FixOnRun:
		return runID
	}
	seg, err := s.store.SegmentByID(ctx, act.WorkspaceID, act.SegmentID)
	if err != nil {
		return ""
	}
	m, err := s.store.ModelByID(ctx, act.WorkspaceID, seg.ModelID)
	if err != nil {
		return ""
	}
	if on == models.FixOnSource {
		return m.SourceID
	}
	return m.ID
}

// OpenIncident opens the incident (or counts one more occurrence of it), alerting the
// recipients the workspace's settings route it to, in the same transaction.
func (s *Service) OpenIncident(ctx context.Context, in Incident) {
	to, err := s.alertRecipients(ctx, in.Event.WorkspaceID, in.Event.Event, in.Event.Category, in.Activation)
	if err == nil {
		_, err = s.store.OpenIncident(ctx, in.Event, to, s.renderIncident(ctx, in))
	}
	if err != nil {
		s.logger().Error("open incident", slog.String("object_id", in.Event.ObjectID), slog.String("event", in.Event.Event), slog.Any("error", err))
	}
}

// ResolveIncidents closes the object's open incidents of an event, sending one resolved
// notice for each to those its opening alerted.
func (s *Service) ResolveIncidents(ctx context.Context, workspaceID, objectType, objectID, event string, act *models.Activation) {
	open, err := s.store.HasOpenIncident(ctx, workspaceID, objectType, objectID, event)
	if err != nil || !open {
		if err != nil {
			s.logger().Error("find open incidents", slog.Any("error", err))
		}
		return
	}
	// Recipients depend on the category: resolve each incident with its own.
	incs, err := s.store.IncidentsOf(ctx, workspaceID, objectType, objectID, 50)
	if err != nil {
		s.logger().Error("list incidents", slog.Any("error", err))
		return
	}
	done := map[string]bool{}
	for _, inc := range incs {
		if !inc.Open() || inc.Event != event || done[inc.Category] {
			continue
		}
		done[inc.Category] = true
		alertEvent := event
		if event == models.EventActivationPaused {
			alertEvent = models.EventActivationResumed // the resolved notice says it runs again
		}
		to, err := s.alertRecipients(ctx, workspaceID, alertEvent, inc.Category, act)
		if err != nil {
			s.logger().Error("alert recipients", slog.Any("error", err))
			continue
		}
		in := Incident{Activation: act}
		if _, err := s.store.ResolveIncidents(ctx, workspaceID, objectType, objectID, event, to, s.renderIncident(ctx, in)); err != nil {
			s.logger().Error("resolve incident", slog.Any("error", err))
		}
	}
}

func (s *Service) logger() *slog.Logger {
	if s.log == nil {
		return slog.Default()
	}
	return s.log
}

// alertRecipients are where an alert of event and category goes: nowhere when the event
// does not alert or the activation is muted; else the routing of its category (or of
// everything else; with neither, the recipients and Slack), users as their e-mail
// addresses, plus the activation's extra recipients.
func (s *Service) alertRecipients(ctx context.Context, workspaceID, event, category string, act *models.Activation) ([]models.AlertRecipient, error) {
	set, err := s.store.AlertSettings(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(set.Events, event) {
		return nil, nil
	}
	var extra []string
	if act != nil {
		for _, o := range set.Overrides {
			if o.ActivationID == act.ID {
				if o.Muted {
					return nil, nil
				}
				extra = o.Extra
			}
		}
	}
	targets, ok := set.Routing[category]
	if !ok || category == "" {
		targets, ok = set.Routing[models.RouteAll]
	}
	if !ok {
		targets = []string{models.TargetRecipients, models.TargetSlack}
	}
	users, err := s.store.ListUsers(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	emailOf := func(r string) string {
		for _, u := range users {
			if u.ID == r {
				return u.Email
			}
		}
		return r
	}
	var out []models.AlertRecipient
	addMail := func(addr string) {
		addr = strings.ToLower(strings.TrimSpace(addr))
		if addr == "" || !strings.Contains(addr, "@") {
			return
		}
		r := models.AlertRecipient{Channel: models.ChannelEmail, Target: addr}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, t := range targets {
		switch t {
		case models.TargetRecipients:
			for _, r := range set.Recipients {
				addMail(emailOf(r))
			}
		case models.TargetAdmins:
			for _, u := range users {
				if u.Role == models.RoleAdmin {
					addMail(u.Email)
				}
			}
		case models.TargetCreator:
			id := ""
			if act != nil {
				id, _ = s.store.ActivationCreator(ctx, workspaceID, act.ID)
			}
			if id == "" {
				for _, r := range set.Recipients {
					addMail(emailOf(r))
				}
			} else {
				addMail(emailOf(id))
			}
		case models.TargetSlack:
			for _, u := range set.SlackWebhookURLs {
				out = append(out, models.AlertRecipient{Channel: models.ChannelSlack, Target: u})
			}
		}
	}
	for _, r := range extra {
		addMail(emailOf(r))
	}
	return out, nil
}

// objectWord is how a message names an object type.
var objectWord = map[string]string{
	models.IncidentActivation: "Activation",
	models.IncidentSource:     "Source",
	models.IncidentPlatform:   "Platform",
	models.IncidentModel:      "Model",
}

// objectPath is the app page of an incident's object.
func objectPath(objectType, id string) string {
	switch objectType {
	case models.IncidentActivation:
		return "/activations/" + id
	case models.IncidentSource:
		return "/sources/" + id
	case models.IncidentPlatform:
		return "/settings/platforms/" + id
	case models.IncidentModel:
		return "/models/" + id
	}
	return "/"
}

// eventTitles say what happened, by event, for a failure.
var eventTitles = map[string]string{
	models.EventRunFailed:         "%s “%s” failed",
	models.EventActivationPaused:  "%s “%s” was paused automatically",
	models.EventSourceBroken:      "%s “%s” is broken",
	models.EventPlatformBroken:    "%s “%s” needs re-authorizing",
	models.EventSchemaIssues:      "%s “%s” has schema issues",
	models.EventThresholdPassed:   "%s “%s” passed a threshold",
	models.EventActivationResumed: "%s “%s” was resumed automatically",
}

// renderIncident builds the notice's message: the incident's title, category label and
// reason, the run's counts, and buttons to the run and to the fix as absolute links.
func (s *Service) renderIncident(ctx context.Context, in Incident) models.IncidentNotice {
	workspace := ""
	if ws, err := s.store.WorkspaceByID(ctx, in.Event.WorkspaceID); err == nil {
		workspace = ws.Name
	}
	base := s.baseURL
	if base == "" {
		base = "http://localhost:8080"
	}
	return func(inc *models.Incident, kind string) ([]byte, error) {
		word := objectWord[inc.ObjectType]
		m := notify.Message{Kind: notify.KindFailure, Workspace: workspace, ObjectType: word, ObjectName: inc.ObjectName,
			Reason: inc.Message, OccurredAt: inc.LastSeenAt.UTC()}
		title := eventTitles[inc.Event]
		if title == "" {
			title = "%s “%s” needs attention"
		}
		m.Title = fmt.Sprintf(title, word, inc.ObjectName)
		if inc.Category != "" {
			m.Category = connectors.Category(inc.Category).Label()
		}
		switch kind {
		case models.NoticeReminder:
			m.Kind = notify.KindReminder
			m.Reason = fmt.Sprintf("%s (seen %d times since %s UTC)", inc.Message, inc.Occurrences, inc.OpenedAt.UTC().Format("2 Jan 15:04"))
		case models.NoticeResolved:
			m.Kind = notify.KindResolved
			m.Title = fmt.Sprintf("%s “%s” works again", word, inc.ObjectName)
			m.Reason = fmt.Sprintf("Resolved after %d occurrence(s). It failed with: %s", inc.Occurrences, inc.Message)
			if inc.ResolvedAt != nil {
				m.OccurredAt = inc.ResolvedAt.UTC()
			}
		}
		if kind != models.NoticeResolved && in.Counts != nil && in.Counts.Queried > 0 {
			c := in.Counts
			m.Counts = []notify.Count{{Label: "Queried", Value: c.Queried}, {Label: "Sent", Value: c.Sent},
				{Label: "Rejected", Value: c.Rejected}, {Label: "Source issues", Value: c.SourceIssues}}
		}
		link := func(label, path string) {
			if u, err := notify.Link(base, path); err == nil {
				m.Buttons = append(m.Buttons, notify.Button{Label: label, URL: u})
			}
		}
		if kind != models.NoticeResolved && in.Fix != nil && in.FixID != "" {
			link(in.Fix.Label, in.Fix.PathFor(in.FixID))
		}
		if inc.RunID != "" {
			link("Open the run", "/runs/"+inc.RunID)
		}
		link("Open "+strings.ToLower(word), objectPath(inc.ObjectType, inc.ObjectID))
		if err := m.Validate(); err != nil {
			return nil, err
		}
		return json.Marshal(m)
	}
}

// sourceChecked opens the source's incident when validation found it broken (the check
// that failed, its message) and resolves it when it validates again.
func (s *Service) sourceChecked(ctx context.Context, src *models.Source) {
	failed := src.FailedCheck()
	if failed == nil {
		s.ResolveIncidents(ctx, src.WorkspaceID, models.IncidentSource, src.ID, models.EventSourceBroken, nil)
		return
	}
	fix := models.FixPlace{Label: "Fix the source", Path: "/sources/:id"}
	s.OpenIncident(ctx, Incident{Fix: &fix, FixID: src.ID, Event: models.IncidentEvent{WorkspaceID: src.WorkspaceID,
		ObjectType: models.IncidentSource, ObjectID: src.ID, ObjectName: src.Name, Event: models.EventSourceBroken,
		Message: failed.Message}})
}

// platformChecked opens the platform's incident when its credentials were refused, and
// resolves it when it works again.
func (s *Service) platformChecked(ctx context.Context, p *models.Platform, broken bool, message string) {
	if !broken {
		s.ResolveIncidents(ctx, p.WorkspaceID, models.IncidentPlatform, p.ID, models.EventPlatformBroken, nil)
		return
	}
	fix, _ := models.RunFixPlace(models.RunSideDestination, string(connectors.CategoryCredentials))
	s.OpenIncident(ctx, Incident{Fix: &fix, FixID: p.ID, Event: models.IncidentEvent{WorkspaceID: p.WorkspaceID,
		ObjectType: models.IncidentPlatform, ObjectID: p.ID, ObjectName: p.Name, Event: models.EventPlatformBroken,
		Category: string(connectors.CategoryCredentials), Message: message}})
}

// schemaChecked opens the model's incident when validation found schema issues (a
// table, primary key or column missing, renamed or retyped) and resolves it when none
// is left.
func (s *Service) schemaChecked(ctx context.Context, m *models.DataModel, issues []models.ModelIssue) {
	var problems []string
	for _, i := range issues {
		if slices.Contains(schemaKinds, i.Kind) {
			problems = append(problems, schemaProblem(m, i))
		}
	}
	if len(problems) == 0 {
		s.ResolveIncidents(ctx, m.WorkspaceID, models.IncidentModel, m.ID, models.EventSchemaIssues, nil)
		return
	}
	fix, _ := models.PauseFixPlace(models.PauseCauseSchema)
	s.OpenIncident(ctx, Incident{Fix: &fix, FixID: m.ID, Event: models.IncidentEvent{WorkspaceID: m.WorkspaceID,
		ObjectType: models.IncidentModel, ObjectID: m.ID, ObjectName: m.Name, Event: models.EventSchemaIssues,
		Category: string(connectors.CategoryConfiguration), Message: upperFirst(strings.Join(problems, "; ")) + "."}})
}

// pauseAuto pauses an activation as Sluice for cause, opening its "paused
// automatically" incident when the pause took.
func (s *Service) pauseAuto(ctx context.Context, workspaceID, id, cause, reason string) (*models.Activation, error) {
	act, err := s.store.Pause(ctx, systemActor(workspaceID), id, cause, reason)
	if err != nil || !act.PauseAutomatic || act.PauseCause != cause {
		return act, err
	}
	in := Incident{Activation: act, Event: models.IncidentEvent{WorkspaceID: workspaceID, ObjectType: models.IncidentActivation,
		ObjectID: act.ID, ObjectName: act.Name, Event: models.EventActivationPaused, Category: cause, Message: upperFirst(reason)}}
	if place, ok := models.PauseFixPlace(cause); ok && (place.On != models.FixOnRun || act.LastRunID != "") {
		in.Fix, in.FixID = &place, s.fixObject(ctx, place.On, act, act.LastRunID)
	}
	s.OpenIncident(ctx, in)
	return act, nil
}

// resumeAuto lifts an activation's automatic pause of cause, as Sluice, resolving its
// "paused automatically" incident (the resolved notice says it runs again).
func (s *Service) resumeAuto(ctx context.Context, workspaceID, id, cause string) (*models.Activation, error) {
	act, err := s.store.Resume(ctx, systemActor(workspaceID), id, cause)
	if err != nil || act.Status == models.ActivationPaused {
		return act, err
	}
	s.ResolveIncidents(ctx, workspaceID, models.IncidentActivation, act.ID, models.EventActivationPaused, act)
	return act, nil
}
