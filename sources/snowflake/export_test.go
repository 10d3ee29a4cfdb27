package snowflake

import (
	"time"

	"sluice/connectors"
)

// NewWithTimeouts lets tests shorten the validation and query timeouts, so Snowflake's
// timeout is observed in a second rather than an hour.
func NewWithTimeouts(opts Options, statement, query time.Duration) connectors.SourceConnector {
	c := New(opts).(*connector)
	c.statementTimeout, c.queryTimeout = statement, query
	return c
}

var ParseKey, DecodeValue = parseKey, decodeValue

// Col makes a rowType entry for DecodeValue.
func Col(typ string, scale int) column { return column{Name: "c", Type: typ, Scale: &scale} }

// BaseOf is where an opened source sends its requests, and the account its JWTs name.
func BaseOf(src connectors.Source) (base, jwtAccount, user string) {
	s := src.(*source)
	return s.base, s.set.jwtAcct, s.set.user
}
