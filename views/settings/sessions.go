package settings

import (
	"strings"

	"sluice/models"
)

// SessionsProps is the card of signed-in browsers on the users page.
type SessionsProps struct {
	Users    []models.User
	Sessions []models.Session
	// Current is the session of the browser looking at the page.
	Current string
}

// userSessions is one user's live sessions, for the card's grouping.
type userSessions struct {
	User     models.User
	Sessions []models.Session
}

// byUser groups sessions under their users, in the users' order (by e-mail), each
// user's most recently seen first, and leaves out users who are not signed in.
func (p SessionsProps) byUser() []userSessions {
	of := make(map[string][]models.Session)
	for _, s := range p.Sessions {
		of[s.UserID] = append(of[s.UserID], s)
	}
	var out []userSessions
	for _, u := range p.Users {
		if ss := of[u.ID]; len(ss) > 0 {
			out = append(out, userSessions{User: u, Sessions: ss})
		}
	}
	return out
}

// Browser names a user agent the way a person would ("Firefox on Linux"), or says it is
// unknown; the full string stays in the cell's title.
func Browser(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	browser := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go HTTP client"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// endSessionConfirm is the question asked before ending a session.
func endSessionConfirm(u models.User, current bool) string {
	if current {
		return "End your own session? You will be signed out of this browser."
	}
	return "Sign " + u.Email + " out of this browser? They will need to sign in again."
}
