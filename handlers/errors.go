package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sluice/jobs"
	"sluice/models"
	"sluice/segments"
	"sluice/views/components"
	"sluice/views/pages"
)

// apiError is the error body of API.md: {"error": {"code", "message", "field"}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// apiErrorBody is apiError plus, on a 409 from *models.DependentsError, what still
// depends on the object.
type apiErrorBody struct {
	apiError
	Dependents []models.Dependent `json:"dependents,omitempty"`
}

// classify turns any error into what the user is told. Internal errors keep their
// detail in the log only.
func classify(err error) (int, apiError) {
	var he *echo.HTTPError
	var fe *models.FieldError
	var de *models.DependentsError
	var busy *jobs.BusyError
	var ie *inputError
	switch {
	case errors.As(err, &ie):
		return http.StatusBadRequest, apiError{"bad_request", ie.Message, ie.Field}
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, apiError{"invalid", fe.Message, fe.Field}
	case errors.Is(err, models.ErrInvalid):
		return http.StatusUnprocessableEntity, apiError{"invalid", "The input is not valid.", ""}
	case errors.Is(err, jobs.ErrPaused):
		return http.StatusConflict, apiError{"conflict", "This activation is paused. Resume it, then run it.", ""}
	case errors.As(err, &busy):
		return http.StatusConflict, apiError{"conflict", busy.Error(), ""}
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, apiError{"not_found", "This does not exist, or it belongs to another workspace.", ""}
	case errors.As(err, &de):
		return http.StatusConflict, apiError{"conflict", "This is " + de.Error() + ". Change or delete those first.", ""}
	case errors.Is(err, models.ErrConflict):
		return http.StatusConflict, apiError{"conflict", "This conflicts with something that already exists.", ""}
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if he.Code >= 500 || msg == "" || msg == http.StatusText(he.Code) {
			msg = plainMessages[he.Code]
			if msg == "" {
				msg = http.StatusText(he.Code)
			}
		}
		return he.Code, apiError{codeOf(he.Code), msg, ""}
	}
	return http.StatusInternalServerError, apiError{"internal", "Something went wrong on our side. It has been logged; try again in a moment.", ""}
}

func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "invalid"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	return "internal"
}

// plainMessages replace echo's bare status texts with what a person can act on.
var plainMessages = map[int]string{
	http.StatusBadRequest:            "The request was malformed. Reload the page and try again.",
	http.StatusNotFound:              "There is nothing at this address. It may have been removed, or the link may be mistyped.",
	http.StatusMethodNotAllowed:      "This address does not accept that kind of request.",
	http.StatusRequestEntityTooLarge: "The request is too large.",
}

var errorTitles = map[int]string{
	http.StatusForbidden:       "Not allowed",
	http.StatusNotFound:        "Page not found",
	http.StatusTooManyRequests: "Slow down",
}

// handleError is the one place errors become answers: JSON for the API, a toast for
// htmx, a page for the browser. 5xx are logged with the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := classify(err)
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", slog.String("request_id", reqID),
			slog.String("path", c.Request().URL.Path), slog.Any("error", err))
	}
	var werr error
	switch {
	case strings.HasPrefix(c.Request().URL.Path, "/api/"):
		out := apiErrorBody{apiError: body}
		if de := (*models.DependentsError)(nil); errors.As(err, &de) {
			out.Dependents = de.Dependents
		}
		werr = c.JSON(status, map[string]apiErrorBody{"error": out})
	case isHTMX(c):
		// Errors land in the flash area, whatever the request meant to swap.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		werr = s.render(c, status, components.ErrorToast(body.Message), nil)
	default:
		title := errorTitles[status]
		if title == "" {
			title = http.StatusText(status)
		}
		werr = s.render(c, status, pages.ErrorPage(pages.ErrorProps{Status: status, Title: title, Message: body.Message, RequestID: reqID}), nil)
	}
	if werr != nil {
		s.log.Error("write error answer", slog.Any("error", werr))
	}
}

// asFieldErr is errors.As for field errors.
func asFieldErr(err error, fe **models.FieldError) bool { return err != nil && errors.As(err, fe) }

// dependentsMessage turns a refused deletion into a 409 that names what depends on it.
func dependentsMessage(err error, name string) error {
	var de *models.DependentsError
	if !errors.As(err, &de) {
		return err
	}
	return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("%s cannot be deleted: %s.", name, de.Error()))
}

// asSegmentErr is errors.As for condition errors.
func asSegmentErr(err error, fe **segments.FieldError) bool { return errors.As(err, fe) }
