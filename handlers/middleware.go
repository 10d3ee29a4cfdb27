package handlers

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"sluice/models"
)

const (
	sessionName   = "sluice"
	sessionMaxAge = models.SessionLifetime // the cookie lives as long as its session
	sessID        = "sid"                  // the server-side session's token; the database keeps its hash
	sessCSRF      = "csrf"
	csrfField     = "_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// ErrCSRF is answered 403: a state change arrived without the token of its session.
var errCSRF = echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from Sluice. Reload the page and try again.")

// session returns the request's cookie session, loaded by loadSession.
func session(c echo.Context) *sessions.Session {
	s, _ := c.Get(keySession).(*sessions.Session)
	return s
}

// saveSession writes the session cookie; it must run before the body is written.
func saveSession(c echo.Context) error {
	if err := session(c).Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("handlers: save session: %w", err)
	}
	return nil
}

// loadSession reads the session cookie, makes sure it carries a CSRF token, and loads
// the signed-in user from the server-side session the cookie names, whose workspace
// then scopes the whole request, with the user's role in it (their membership). A session ended (sign-out, role change, removal, an
// admin) or expired is gone from the database, so its cookie signs nobody in.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.sessions.Get(c.Request(), sessionName)
		if err != nil {
			// A cookie from another key or a tampered one: start a clean session.
			sess, _ = s.sessions.New(c.Request(), sessionName)
		}
		c.Set(keySession, sess)
		if _, ok := sess.Values[sessCSRF].(string); !ok {
			sess.Values[sessCSRF] = models.RandomToken()
			if err := saveSession(c); err != nil {
				return err
			}
		}
		if token, ok := sess.Values[sessID].(string); ok {
			in, err := s.store.SessionUser(c.Request().Context(), token)
			switch {
			case errors.Is(err, models.ErrNotFound): // ended or expired since: signed out
				delete(sess.Values, sessID)
			case err != nil:
				return fmt.Errorf("load session user: %w", err)
			default:
				u := &in.User
				c.Set(keySessionID, in.SessionID)
				c.Set(keyUser, u)
				c.Set(keyWorkspace, &in.Workspace)
				c.Set(keyMemberOf, in.Workspaces)
				c.Set(keyActor, models.Actor{WorkspaceID: u.WorkspaceID, Type: models.ActorUser, ID: u.ID, Name: u.Email, Role: u.Role})
			}
		}
		return next(c)
	}
}

// checkCSRF refuses every state change that does not echo its session's token, from
// the form field or (htmx) the header.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		want, _ := session(c).Values[sessCSRF].(string)
		got := c.Request().Header.Get(csrfHeader)
		if got == "" {
			got = c.FormValue(csrfField)
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

// requireUser sends signed-out visitors to /login, remembering where they were going.
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) != nil {
			return next(c)
		}
		dest := c.Echo().Reverse("auth.login")
		if c.Request().Method == http.MethodGet {
			dest += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		return redirect(c, dest)
	}
}

// requireRole answers 403 to anyone below min.
func requireRole(min models.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !actor(c).Role.AtLeast(min) {
				return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("This needs the %s role or higher. Ask an admin of your workspace.", min.Label()))
			}
			return next(c)
		}
	}
}

// safeNext keeps a post-sign-in destination on this site. It reads next as a browser
// reads a Location (the WHATWG URL rules): leading and trailing controls and spaces
// trimmed, tabs and newlines dropped anywhere, a backslash before the query taken for a
// slash, "." and ".." segments (also as %2e) resolved. What is left must be a path of
// this origin: one "/" and no second, so never "//host", "/\\host", "/\t/host" or
// "https://host". Anything else is "" (the caller's default), and what is kept is
// returned re-encoded, so the Location says what was checked.
func safeNext(next string) string {
	next = strings.TrimFunc(next, func(r rune) bool { return r <= ' ' })
	next = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, next)
	path, rest := next, ""
	if i := strings.IndexAny(next, "?#"); i >= 0 {
		path, rest = next[:i], next[i:]
	}
	path = strings.ReplaceAll(path, "\\", "/")
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasPrefix(resolveDots(path), "//") {
		return ""
	}
	u, err := url.Parse(path + rest)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return u.String()
}

// resolveDots applies a browser's dot-segment rules to an absolute path ("%2e" counts
// as "."), so "/.//host" is seen as the "//host" it becomes.
func resolveDots(path string) string {
	segs := strings.Split(path, "/")[1:]
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch strings.ToLower(seg) {
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// redirect goes to dest after a form: HX-Redirect for htmx, 303 otherwise.
func redirect(c echo.Context, dest string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", dest)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, dest)
}

// flash queues a message for the next page the user sees.
func flash(c echo.Context, kind, message string) error {
	session(c).AddFlash(kind + "|" + message)
	return saveSession(c)
}

// logRequests writes one structured line per request, with its request id.
func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRequestID: true, LogRemoteIP: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", v.RequestID), slog.String("method", v.Method), slog.String("path", v.URIPath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency), slog.String("remote_ip", v.RemoteIP))
			return nil
		},
	})
}
