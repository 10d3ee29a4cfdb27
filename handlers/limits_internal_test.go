package handlers

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestBodyLimit drives the middleware alone: whatever a handler makes of a body cut
// off at the limit (an error it wraps, a 400, a 403, nothing at all), the answer is 413;
// a body of exactly the limit is read whole.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 1000
	handlers := map[string]echo.HandlerFunc{
		"wraps the read error": func(c echo.Context) error {
			_, err := io.ReadAll(c.Request().Body)
			return err
		},
		"answers 400": func(c echo.Context) error {
			if _, err := io.ReadAll(c.Request().Body); err != nil {
				return echo.ErrBadRequest
			}
			return c.NoContent(http.StatusOK)
		},
		"reads a form and answers 403": func(c echo.Context) error {
			if c.FormValue("_csrf") == "" {
				return echo.ErrForbidden
			}
			return c.NoContent(http.StatusOK)
		},
		"ignores the error": func(c echo.Context) error {
			_, _ = io.ReadAll(c.Request().Body)
			return nil
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{limit + 1, 10 * limit} {
				for _, chunked := range []bool{false, true} {
					e := echo.New()
					var body io.Reader = strings.NewReader("_csrf=" + strings.Repeat("a", n-6))
					if chunked {
						body = io.MultiReader(body)
					}
					req := httptest.NewRequest(http.MethodPost, "/", body)
					req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
					if chunked {
						req.ContentLength = -1
					}
					err := bodyLimit(limit)(h)(e.NewContext(req, httptest.NewRecorder()))
					var he *echo.HTTPError
					if !errors.As(err, &he) || he.Code != http.StatusRequestEntityTooLarge {
						t.Errorf("%d bytes, chunked %v: err = %v, want 413", n, chunked, err)
					}
				}
			}
		})
	}

	var got int
	read := func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		got = len(b)
		return err
	}
	req := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(strings.Repeat("a", limit))))
	req.ContentLength = -1
	if err := bodyLimit(limit)(read)(echo.New().NewContext(req, httptest.NewRecorder())); err != nil || got != limit {
		t.Errorf("a body of exactly the limit: read %d bytes, err %v", got, err)
	}
}

// TestWaitWords: the wait shown to a throttled user, rounded up.
func TestWaitWords(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "1 second", 400 * time.Millisecond: "1 second", 45 * time.Second: "45 seconds",
		59*time.Second + 800*time.Millisecond: "1 minute", time.Minute: "1 minute", 61 * time.Second: "2 minutes", 15 * time.Minute: "15 minutes",
	} {
		if got := waitWords(d); got != want {
			t.Errorf("waitWords(%s) = %q, want %q", d, got, want)
		}
	}
}
