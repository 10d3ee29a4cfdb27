package sqlite

import (
	"time"

	"sluice/connectors"
)

// NewWithTimeout lets tests shorten the statement timeout, so it is observed in
// milliseconds rather than an hour.
func NewWithTimeout(dir string, timeout time.Duration, deny ...string) connectors.SourceConnector {
	c := New(dir, deny...).(connector)
	c.timeout = timeout
	return c
}
