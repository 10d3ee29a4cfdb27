package postgres

import (
	"time"

	"sluice/connectors"
)

// NewWithTimeouts lets tests shorten the connect and statement timeouts, so a silent
// server's timeout is observed in milliseconds rather than ten seconds.
func NewWithTimeouts(f Flavor, connect, statement time.Duration) connectors.SourceConnector {
	c := NewFlavor(f).(*connector)
	c.connectTimeout, c.statementTimeout = connect, statement
	return c
}

var NumericText = numericText

var DecodeFast, NormalizeValue = decodeFast, normalizeValue

// NewWithQueryTimeout lets tests shorten the statement timeout of pooled sessions, so
// it is observed in milliseconds rather than an hour.
func NewWithQueryTimeout(f Flavor, query time.Duration) connectors.SourceConnector {
	c := NewFlavor(f).(*connector)
	c.queryTimeout = query
	return c
}
