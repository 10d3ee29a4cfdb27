package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// What a run in flight can be waiting for (RunWait.Kind).
const (
	// WaitRequest is a request to the platform that has not been answered yet.
	WaitRequest = "destination_request"
	// WaitBackoff is the pause before a request is tried again, after the platform
	// answered 429 or 5xx, or did not answer.
	WaitBackoff = "retry_backoff"
	// WaitQuery is the segment's query, before the warehouse sent its first rows.
	WaitQuery = "warehouse_query"
)

// RunWait is what a run in flight is waiting for, stored with the run while the wait
// lasts (the worker writes it about once a second, and empties it when the wait ends
// and when the run ends).
type RunWait struct {
	Kind string `json:"kind"`
	// Object names what is waited for: the platform, or the source.
	Object string `json:"object"`
	// Since is when the wait began.
	Since time.Time `json:"since"`
	// Until is when a retry's pause ends (zero for the other kinds).
	Until time.Time `json:"until,omitzero"`
	// Timeout is how long a request may take before it is given up (0: not known).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Attempt of MaxAttempts: the request under way, or the one the pause is before.
	Attempt     int `json:"attempt,omitempty"`
	MaxAttempts int `json:"max_attempts,omitempty"`
	// LastAnswer is the platform's last answer to this batch, e.g. "503 Service
	// Unavailable" (empty before the first).
	LastAnswer string `json:"last_answer,omitempty"`
}

// Bounds of a stored wait's text.
const (
	maxWaitObject = 200
	maxWaitAnswer = 200
)

// bounded is w with its text cut to what is stored.
func (w RunWait) bounded() RunWait {
	w.Object = cutRunes(w.Object, maxWaitObject)
	w.LastAnswer = cutRunes(w.LastAnswer, maxWaitAnswer)
	w.Since, w.Until = w.Since.UTC(), w.Until.UTC()
	if w.Until.Equal(time.Time{}.UTC()) {
		w.Until = time.Time{}
	}
	return w
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Wait is what the run is waiting for, nil when it is not waiting (or is over).
func (r *Run) Wait() *RunWait {
	if r.WaitJSON == nil || *r.WaitJSON == "" || r.Finished() {
		return nil
	}
	var w RunWait
	if err := json.Unmarshal([]byte(*r.WaitJSON), &w); err != nil || w.Kind == "" {
		return nil
	}
	return &w
}

// SetRunWait stores what a run is waiting for (nil: it waits for nothing), if this
// worker still holds the run. It answers ErrLeaseLost otherwise.
func (s *Store) SetRunWait(ctx context.Context, runID, owner string, w *RunWait) error {
	var v *string
	if w != nil {
		raw, err := json.Marshal(w.bounded())
		if err != nil {
			return err
		}
		text := string(raw)
		v = &text
	}
	res := s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND lease_owner = ? AND status = ?", runID, owner, RunRunning).
		Update("wait_json", v)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Sentence says the wait in plain words at now, e.g. "Waiting for the platform Acme
// webhook to answer: 31 s so far, timeout 30 s, try 2 of 5; last answer: 503 Service
// Unavailable."
func (w RunWait) Sentence(now time.Time) string {
	so := waitSeconds(now.Sub(w.Since)) + " so far"
	var s string
	switch w.Kind {
	case WaitRequest:
		s = "Waiting for " + w.object("the platform") + " to answer: " + so
		if w.Timeout > 0 {
			s += ", timeout " + waitSeconds(w.Timeout)
		}
		s += w.try()
	case WaitBackoff:
		switch left := w.Until.Sub(now); {
		case w.Until.IsZero():
			s = "Waiting before trying " + w.object("the platform") + " again: " + so
		case left >= time.Second:
			s = "Waiting before trying " + w.object("the platform") + " again: " + waitSeconds(left) + " left"
		default: // the pause is over: the request is going out
			s = "Trying " + w.object("the platform") + " again now"
		}
		s += w.try()
	case WaitQuery:
		s = "Waiting for " + w.object("the source") + " to send the segment's first rows: " + so
		if w.Timeout > 0 {
			s += ", timeout " + waitSeconds(w.Timeout)
		}
	default:
		s = "Waiting: " + so
	}
	if w.LastAnswer != "" {
		s += "; last answer: " + w.LastAnswer
	}
	return s + "."
}

// object names what is waited for: "the platform Acme webhook", or what when unnamed.
func (w RunWait) object(what string) string {
	if w.Object == "" {
		return what
	}
	return what + " " + w.Object
}

func (w RunWait) try() string {
	if w.Attempt <= 0 || w.MaxAttempts <= 0 {
		return ""
	}
	return fmt.Sprintf(", try %d of %d", w.Attempt, w.MaxAttempts)
}

// waitSeconds is a duration in whole seconds ("31 s"), or minutes and seconds past two
// minutes ("4 min 5 s").
func waitSeconds(d time.Duration) string {
	secs := int64(max(d, 0) / time.Second)
	if secs < 120 {
		return strconv.FormatInt(secs, 10) + " s"
	}
	return fmt.Sprintf("%d min %d s", secs/60, secs%60)
}
