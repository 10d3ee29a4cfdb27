package handlers

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sluice/models"
)

// maxBody is the largest request body Sluice reads: 2 MiB.
const maxBody = 2 << 20

// errTooLarge is the one answer to a body over maxBody.
var errTooLarge = echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The request is larger than 2 MB. Send less at once.")

// bodyLimit answers 413 to a body over limit bytes, whether it says its length up front
// or comes chunked. A chunked body is cut off where it passes the limit; whoever was
// reading it (a form parser, a JSON decoder, the CSRF check) fails and would answer
// 400, 403 or 500, so once the limit was passed the answer is 413 whatever the handler
// returned, unless it already wrote one.
func bodyLimit(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return errTooLarge
			}
			if req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			body := &limitedBody{ReadCloser: req.Body, left: limit}
			req.Body = body
			err := next(c)
			if body.exceeded && !c.Response().Committed {
				return errTooLarge
			}
			return err
		}
	}
}

// limitedBody reads up to left bytes, then fails with errTooLarge and remembers it.
type limitedBody struct {
	io.ReadCloser
	left     int64
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.exceeded {
		return 0, errTooLarge
	}
	// Read one byte past what is left, to tell "exactly the limit" from "over it".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		b.exceeded = true
		n = int(b.left)
		b.left = 0
		return n, errTooLarge
	}
	b.left -= int64(n)
	return n, err
}

// hsts tells browsers to come back over HTTPS only, for a year, subdomains included:
// set when the base URL is https://, whatever terminates TLS in front of Sluice.
func hsts(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
		return next(c)
	}
}

// tooMany answers 429 to a throttled client, saying in Retry-After and in words how
// long to wait.
func tooMany(c echo.Context, wait time.Duration, message string) error {
	setRetryAfter(c, wait)
	return echo.NewHTTPError(http.StatusTooManyRequests, message+" Try again in "+waitWords(wait)+".")
}

// setRetryAfter says in whole seconds, rounded up, when to try again.
func setRetryAfter(c echo.Context, wait time.Duration) {
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
}

// waitWords says a wait the way a person would: "45 seconds", "1 minute", "15 minutes".
func waitWords(d time.Duration) string {
	secs := max(1, int(math.Ceil(d.Seconds())))
	if secs < 60 {
		if secs == 1 {
			return "1 second"
		}
		return strconv.Itoa(secs) + " seconds"
	}
	n := (secs + 59) / 60
	if n == 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// throttleWait is the wait of a *models.ThrottledError in err's chain.
func throttleWait(err error) (time.Duration, bool) {
	var te *models.ThrottledError
	if errors.As(err, &te) {
		return te.Wait, true
	}
	return 0, false
}

// MetricsHandler serves /metrics and nothing else, without a token: for the separate
// listener (metrics_listen) that only a private network reaches.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
