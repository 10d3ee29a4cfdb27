// Package sqlsource holds what the SQL source connectors (postgres, redshift, sqlite)
// share: running the five validation stages of the seed in order, wording the lineage
// result, and the small SQL helpers every dialect needs. It imports connectors only, so
// each connector stays a room of its own and the stage rules live in one place.
package sqlsource

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"sluice/connectors"
)

// DefaultStageTimeout bounds each stage when the caller gave no tighter deadline: a
// daily validation must finish even if a warehouse stops answering mid-check.
const DefaultStageTimeout = time.Minute

// StageFunc runs one validation stage and answers ok, with a plain-language message
// either way (what was found, or what is wrong and how to fix it).
type StageFunc func(ctx context.Context) (ok bool, message string)

// Stages are a connector's five checks, in the seed's order. A nil func counts as a
// pass with no message, for engines where a stage has no meaning.
type Stages struct {
	Connection StageFunc
	Access     StageFunc
	Schema     StageFunc
	Grants     StageFunc
	Lineage    StageFunc
	// Timeout bounds each stage; zero means DefaultStageTimeout.
	Timeout time.Duration
}

// skipReason is what a later stage says when an earlier one failed: it points the user
// at the first thing to fix rather than repeating the same failure five times.
var skipReason = map[connectors.Stage]string{
	connectors.StageConnection: "Skipped: fix the connection first.",
	connectors.StageAccess:     "Skipped: fix access first.",
	connectors.StageSchema:     "Skipped: fix the schema first.",
	connectors.StageGrants:     "Skipped: fix the grants first.",
}

// Run runs the stages in order and returns one check per stage. After the first
// failure the later stages do not run (they would only fail for the same reason) and are
// reported Skipped, naming the stage to fix.
func (s Stages) Run(ctx context.Context) []connectors.Check {
	funcs := map[connectors.Stage]StageFunc{
		connectors.StageConnection: s.Connection,
		connectors.StageAccess:     s.Access,
		connectors.StageSchema:     s.Schema,
		connectors.StageGrants:     s.Grants,
		connectors.StageLineage:    s.Lineage,
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultStageTimeout
	}
	checks := make([]connectors.Check, 0, len(connectors.Stages))
	var failed connectors.Stage
	for _, stage := range connectors.Stages {
		if failed != "" {
			checks = append(checks, connectors.Check{Stage: stage, Message: skipReason[failed], Skipped: true})
			continue
		}
		fn := funcs[stage]
		if fn == nil {
			checks = append(checks, connectors.Check{Stage: stage, OK: true})
			continue
		}
		if err := ctx.Err(); err != nil {
			checks = append(checks, connectors.Check{Stage: stage, Message: "Validation was cancelled before this check ran."})
			failed = stage
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		ok, msg := fn(sctx)
		cancel()
		checks = append(checks, connectors.Check{Stage: stage, OK: ok, Message: msg})
		if !ok {
			failed = stage
		}
	}
	return checks
}

// Broken is a model whose table or query no longer resolves, and why, in words.
type Broken struct {
	Model  string
	Reason string
}

// Lineage checks every model with resolve (nil error: it resolves; otherwise the error's
// text is the reason shown) and words the stage result, naming each broken model so the
// user knows which ones to open. resolve should return errors whose Error() is already
// plain language; connectors.Error is rendered by its Message only.
func Lineage(ctx context.Context, models []connectors.ModelRef, resolve func(context.Context, connectors.ModelRef) error) (bool, string) {
	if len(models) == 0 {
		return true, "No models to check yet."
	}
	var broken []Broken
	for _, m := range models {
		if err := ctx.Err(); err != nil {
			return false, "Lineage check was cancelled or timed out before every model was checked."
		}
		if err := resolve(ctx, m); err != nil {
			reason := err.Error()
			if ce, ok := connectors.AsError(err); ok {
				reason = ce.Message
			}
			broken = append(broken, Broken{Model: m.Name, Reason: reason})
		}
	}
	if len(broken) == 0 {
		if len(models) == 1 {
			return true, "The model resolves."
		}
		return true, fmt.Sprintf("All %d models resolve.", len(models))
	}
	return false, LineageMessage(broken)
}

// LineageMessage words the broken models, one sentence each, in the order given.
func LineageMessage(broken []Broken) string {
	parts := make([]string, 0, len(broken))
	for _, b := range broken {
		parts = append(parts, fmt.Sprintf("Model %s: %s", b.Model, sentence(b.Reason)))
	}
	return strings.Join(parts, " ")
}

// sentence makes s end with a full stop, so joined reasons read as sentences.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

// QuoteIdent quotes an identifier the SQL-standard way (PostgreSQL, Redshift and SQLite
// all accept it): wrapped in double quotes, inner double quotes doubled. A NUL byte cannot
// appear in an identifier and is dropped rather than allowed to truncate the statement.
func QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// DisplayIdent renders an identifier for a message the user may paste into a SQL
// console: bare when it is a plain lower-case name, quoted otherwise, so
// "GRANT SELECT ON public.orders" stays readable and "Orders" stays correct.
func DisplayIdent(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return QuoteIdent(name)
}

// DisplayName is schema.name for messages (see DisplayIdent); an empty schema is left out.
func DisplayName(schema, name string) string {
	if schema == "" {
		return DisplayIdent(name)
	}
	return DisplayIdent(schema) + "." + DisplayIdent(name)
}

// TrimSQL removes surrounding blanks and trailing semicolons from a model's SQL, which
// users paste from consoles; a trailing ";" would break wrapping it as a subquery.
func TrimSQL(sql string) string {
	sql = strings.TrimSpace(sql)
	for strings.HasSuffix(sql, ";") {
		sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
	}
	return sql
}

// RelationSQL renders a relation as a FROM item with the standard quoting: a table as
// "schema"."table" AS "alias", SQL as (sql) AS "alias". The SQL is wrapped on its own
// lines so a trailing "-- comment" in it cannot swallow the closing parenthesis.
func RelationSQL(rel connectors.Relation, alias string) string {
	return QuotedRelationSQL(QuoteIdent, rel, alias)
}

// QuotedRelationSQL is RelationSQL with a dialect's own identifier quoting (backticks
// on BigQuery and Databricks), and qualifiers (a catalog, a project) written before a
// table's schema.
func QuotedRelationSQL(quote func(string) string, rel connectors.Relation, alias string, qualifiers ...string) string {
	var from string
	if rel.Table != nil {
		from = quote(rel.Table.Name)
		if rel.Table.Schema != "" {
			from = quote(rel.Table.Schema) + "." + from
			for i := len(qualifiers) - 1; i >= 0; i-- {
				if qualifiers[i] != "" {
					from = quote(qualifiers[i]) + "." + from
				}
			}
		}
	} else {
		from = "(\n" + TrimSQL(rel.SQL) + "\n)"
	}
	if alias == "" {
		return from
	}
	return from + " AS " + quote(alias)
}

// ModelSQL wraps a model's SQL so that describing or probing it cannot run anything but
// a query: "SELECT * FROM (sql) AS m LIMIT 0" fails for DML and returns no rows.
func ModelSQL(sql string) string {
	return "SELECT * FROM (\n" + TrimSQL(sql) + "\n) AS sluice_model LIMIT 0"
}
