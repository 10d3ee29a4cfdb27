package databricks

import (
	"time"

	"sluice/connectors"
)

// WithTimeouts sets a connector's statement and query timeouts, for tests.
func WithTimeouts(c connectors.SourceConnector, statement, query time.Duration) connectors.SourceConnector {
	cc := c.(*connector)
	cc.statementTimeout, cc.queryTimeout = statement, query
	return cc
}
