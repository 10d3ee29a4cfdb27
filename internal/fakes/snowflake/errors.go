package snowflake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// sqlError is a failed statement as the QueryFailureStatus body carries it.
type sqlError struct {
	Code     string
	SQLState string
	Message  string
	// Status is the HTTP status (0: 422, a statement that failed).
	Status int
}

func (e *sqlError) Error() string { return e.Code + " (" + e.SQLState + "): " + e.Message }

func (e *sqlError) status() int {
	if e.Status != 0 {
		return e.Status
	}
	return http.StatusUnprocessableEntity
}

// Snowflake's own codes and messages, as its errors show them.
func errNoWarehouse() *sqlError {
	return &sqlError{Code: "000606", SQLState: "57P03",
		Message: "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n"}
}

func errNoDatabase() *sqlError {
	return &sqlError{Code: "090105", SQLState: "22000",
		Message: "Cannot perform SELECT. This session does not have a current database. Call 'USE DATABASE', or use a qualified name."}
}

func errRoleNotGranted(role string) *sqlError {
	return &sqlError{Code: "390189", SQLState: "08004",
		Message: fmt.Sprintf("Role '%s' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.", role)}
}

func errCanceled() *sqlError {
	return &sqlError{Code: "000604", SQLState: "57014", Message: "SQL execution canceled"}
}

func errTimeout(seconds int) *sqlError {
	return &sqlError{Code: "000630", SQLState: "57014", Status: http.StatusRequestTimeout,
		Message: fmt.Sprintf("Statement reached its statement or warehouse timeout of %d second(s) and was canceled.", seconds)}
}

var pgName = regexp.MustCompile(`"([^"]*)"`)

// fromPostgres words a PostgreSQL error as Snowflake words the same failure.
func (s *Server) fromPostgres(err error, sess *session, timeout int, canceled bool) *sqlError {
	var se *sqlError
	if errors.As(err, &se) {
		return se
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if canceled {
			return errCanceled()
		}
		return &sqlError{Code: "000603", SQLState: "XX000", Message: "SQL execution internal error: Processing aborted due to error 300002:2523766418; incident 1."}
	}
	name := ""
	if m := pgName.FindStringSubmatch(pe.Message); m != nil {
		name = m[1]
	} else if i := strings.LastIndex(pe.Message, " "); i >= 0 {
		name = pe.Message[i+1:]
	}
	switch {
	case pe.Code == "57014" && canceled:
		return errCanceled()
	case pe.Code == "57014":
		return errTimeout(timeout)
	case pe.Code == "42501" && strings.Contains(pe.Message, "schema"):
		return &sqlError{Code: "002003", SQLState: "02000",
			Message: fmt.Sprintf("SQL compilation error:\nSchema '%s.%s' does not exist or not authorized.", sess.database, name)}
	case pe.Code == "42501":
		// The fake grants only SELECT: a role without it has no privilege on the
		// object, and Snowflake then does not admit that the object exists.
		return &sqlError{Code: "002003", SQLState: "42S02",
			Message: fmt.Sprintf("SQL compilation error:\nObject '%s' does not exist or not authorized.", name)}
	case pe.Code == "42P01":
		return &sqlError{Code: "002003", SQLState: "42S02",
			Message: fmt.Sprintf("SQL compilation error:\nObject '%s' does not exist or not authorized.", name)}
	case pe.Code == "3F000":
		return &sqlError{Code: "002003", SQLState: "02000",
			Message: fmt.Sprintf("SQL compilation error:\nSchema '%s' does not exist or not authorized.", name)}
	case pe.Code == "42703":
		return &sqlError{Code: "000904", SQLState: "42000",
			Message: fmt.Sprintf("SQL compilation error: error line 1 at position %d\ninvalid identifier '%s'", max(pe.Position-1, 0), name)}
	case pe.Code == "42601":
		return &sqlError{Code: "001003", SQLState: "42000",
			Message: fmt.Sprintf("SQL compilation error:\nsyntax error line 1 at position %d unexpected '%s'.", max(pe.Position-1, 0), name)}
	case pe.Code == "42883" || pe.Code == "42804" || pe.Code == "42P18":
		return &sqlError{Code: "001044", SQLState: "42P13",
			Message: "SQL compilation error: error line 1 at position 0\nInvalid argument types for function or operator: " + pe.Message}
	case strings.HasPrefix(pe.Code, "22"):
		return &sqlError{Code: "100038", SQLState: "22018", Message: "Numeric value or date/time is not recognized: " + pe.Message}
	}
	return &sqlError{Code: "000603", SQLState: "XX000", Message: "SQL execution internal error: " + pe.Message}
}

// authFailed is the documented 401 of a JWT Snowflake refuses.
func authFailed(w http.ResponseWriter, handle string) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{
		"code":    "390144",
		"message": "JWT token is invalid. [" + handle + "]",
	})
}

// failure writes a QueryFailureStatus.
func (s *Server) failure(w http.ResponseWriter, st *statement, e *sqlError) {
	writeJSON(w, e.status(), map[string]any{
		"code":               e.Code,
		"sqlState":           e.SQLState,
		"message":            e.Message,
		"statementHandle":    st.handle,
		"createdOn":          st.created.UnixMilli(),
		"statementStatusUrl": "/api/v2/statements/" + st.handle,
	})
}

// badRequest is a request the API refuses before running anything (the fake's wording:
// the reference lists the 400 answer without a body).
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": "391900", "message": msg + " (the fake's wording)"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
