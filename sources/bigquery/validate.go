package bigquery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/api/iterator"

	"sluice/connectors"
	"sluice/sources/sqlsource"
)

// maxGrantChecks bounds the dry runs of the grants stage when no model narrows it: one
// per table, free, but a dataset of thousands of tables would make the check slow.
const maxGrantChecks = 200

// Validate runs the five stages of the seed:
//
//   - connection: through the SSH bastion when there is one, Google signs the service
//     account in (the key's JWT traded for a token);
//   - access: the account may run query jobs in the project (SELECT 1 through jobs.query);
//   - schema: the dataset exists, the account may see it, and it is in the location set;
//   - grants: the account may read each table the models read (every table of the
//     dataset when there are none), checked by dry runs, which BigQuery authorizes as
//     it would the query;
//   - lineage: every model's table still exists and every model's SQL still compiles
//     (a dry run).
func (s *source) Validate(ctx context.Context, models []connectors.ModelRef) []connectors.Check {
	v := &validation{source: s, models: models}
	return sqlsource.Stages{
		Connection: v.connection,
		Access:     v.access,
		Schema:     v.schema,
		Grants:     v.grants,
		Lineage:    v.lineage,
		Timeout:    s.stageTimeout,
	}.Run(ctx)
}

type validation struct {
	*source
	models []connectors.ModelRef
}

func (v *validation) fail(err error) (bool, string) {
	return false, v.set.classify(err).Message
}

func (v *validation) connection(ctx context.Context) (bool, string) {
	via, err := v.tunnel.Reach(ctx) // the bastion first, so a failure names its hop
	if err != nil {
		return v.fail(err)
	}
	type result struct{ err error }
	ch := make(chan result, 1)
	go func() {
		_, err := v.tokens.Token()
		ch <- result{err}
	}()
	select {
	case <-ctx.Done():
		return v.fail(ctx.Err())
	case r := <-ch:
		if r.err != nil {
			return v.fail(r.err)
		}
	}
	return true, fmt.Sprintf("Google signed in service account %s%s.", v.set.email, via)
}

func (v *validation) access(ctx context.Context) (bool, string) {
	it, err := v.newQuery("SELECT 1", nil).Read(ctx)
	if err == nil {
		err = drain(it)
	}
	if err != nil {
		return v.fail(err)
	}
	return true, fmt.Sprintf("Service account %s can run query jobs in project %s.", v.set.email, v.set.project)
}

func (v *validation) schema(ctx context.Context) (bool, string) {
	md, err := v.client.Dataset(v.set.dataset).Metadata(ctx)
	if err != nil {
		ok, msg := v.fail(err)
		if ce := v.set.classify(err); ce.Field == "dataset" {
			if names, lerr := v.Schemas(ctx); lerr == nil && len(names) > 0 {
				if len(names) > 10 {
					names = append(names[:10], "…")
				}
				msg += " Datasets the service account can see: " + strings.Join(names, ", ") + "."
			}
		}
		return ok, msg
	}
	if !strings.EqualFold(md.Location, v.set.location) {
		return false, fmt.Sprintf("Dataset %s is in location %s, not %s. Set Location to %s: query jobs must run where the data is.", v.set.dataset, md.Location, v.set.location, md.Location)
	}
	return true, fmt.Sprintf("Dataset %s exists in project %s, location %s.", v.set.dataset, v.set.project, md.Location)
}

func (v *validation) grants(ctx context.Context) (bool, string) {
	var tables []connectors.Table
	var problems []string
	var scope string
	if len(v.models) == 0 {
		it := v.client.Dataset(v.set.dataset).Tables(ctx)
		for len(tables) < maxGrantChecks {
			t, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return v.fail(err)
			}
			tables = append(tables, connectors.Table{Schema: v.set.dataset, Name: t.TableID})
		}
		scope = fmt.Sprintf("all %d tables and views of dataset %s", len(tables), v.set.dataset)
		if len(tables) == 1 {
			scope = fmt.Sprintf("the one table of dataset %s", v.set.dataset)
		}
		if len(tables) == maxGrantChecks {
			scope = fmt.Sprintf("the first %d tables and views of dataset %s", len(tables), v.set.dataset)
		}
	} else {
		seen := map[connectors.Table]bool{}
		for _, m := range v.models {
			if t := m.Relation.Table; t != nil {
				tt := connectors.Table{Schema: t.Schema, Name: t.Name}
				if tt.Schema == "" {
					tt.Schema = v.set.dataset
				}
				if !seen[tt] {
					seen[tt] = true
					tables = append(tables, tt)
				}
				continue
			}
			if sqlsource.TrimSQL(m.Relation.SQL) == "" {
				continue
			}
			// A SQL model: its dry run is authorized like the query; only a refused
			// access says something about grants (the rest is lineage's).
			if _, err := v.dryRun(ctx, sqlsource.ModelSQL(m.Relation.SQL), nil); err != nil {
				if ce := v.set.classify(err); ce.Category == connectors.CategoryCredentials {
					problems = append(problems, fmt.Sprintf("Model %s: %s", m.Name, ce.Message))
				}
			}
		}
		scope = fmt.Sprintf("the %d tables and views the models read", len(tables))
		if len(tables) == 1 {
			scope = "the one table the models read"
		}
	}
	var missing []string
	var dataset string
	for _, t := range tables {
		sql := "SELECT 1 FROM " + Dialect{}.RelationSQL(connectors.Relation{Table: &t}, "") + " LIMIT 0"
		_, err := v.dryRun(ctx, sql, nil)
		if err == nil {
			continue
		}
		ce := v.set.classify(err)
		switch ce.Category {
		case connectors.CategoryCredentials:
			missing = append(missing, sqlsource.DisplayName(t.Schema, t.Name))
			dataset = t.Schema
		case connectors.CategoryNotFound:
			// A model's missing table is the lineage stage's to report.
		default:
			return false, ce.Message
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("Service account %s may not read %s. Grant it BigQuery Data Viewer (roles/bigquery.dataViewer) on those tables or on dataset %s.",
			v.set.email, strings.Join(missing, ", "), dataset))
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, " ")
	}
	return true, fmt.Sprintf("Service account %s may read %s.", v.set.email, scope)
}

func (v *validation) lineage(ctx context.Context) (bool, string) {
	return sqlsource.Lineage(ctx, v.models, func(ctx context.Context, m connectors.ModelRef) error {
		if t := m.Relation.Table; t != nil {
			dataset := t.Schema
			if dataset == "" {
				dataset = v.set.dataset
			}
			_, err := v.client.Dataset(dataset).Table(t.Name).Metadata(ctx)
			if err == nil {
				return nil
			}
			if a, ok := asAPIError(err); ok && a.reason == "notFound" {
				return fmt.Errorf("the table %s no longer exists", sqlsource.DisplayName(dataset, t.Name))
			}
			return v.set.classify(err)
		}
		if sqlsource.TrimSQL(m.Relation.SQL) == "" {
			return errors.New("it has neither a table nor SQL")
		}
		if _, err := v.dryRun(ctx, sqlsource.ModelSQL(m.Relation.SQL), nil); err != nil {
			if a, ok := asAPIError(err); ok && (a.reason == "invalidQuery" || a.reason == "notFound") {
				return fmt.Errorf("its SQL no longer runs: %s", a.message)
			}
			return v.set.classify(err)
		}
		return nil
	})
}
