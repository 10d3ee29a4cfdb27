package models_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"sluice/internal/testutil"
	"sluice/models"
)

// column is a dialect-neutral description of one column.
type column struct {
	Table, Name, Type string
	NotNull, PK       bool
}

func normalizeType(t string) string {
	t = strings.ToLower(t)
	switch {
	case strings.Contains(t, "timestamp"), t == "datetime":
		return "timestamp"
	case strings.Contains(t, "char"), t == "text":
		return "text"
	case strings.Contains(t, "bool"):
		return "boolean"
	case strings.Contains(t, "int"):
		return "integer"
	case t == "bytea":
		return "blob"
	}
	return t
}

func schemaOf(t *testing.T, s *models.Store) (cols []string, indexes []string) {
	t.Helper()
	db := s.DB()
	var rows []column
	switch s.Dialect() {
	case "postgres":
		err := db.Raw(`SELECT c.table_name AS "table", c.column_name AS name, c.data_type AS type,
			c.is_nullable = 'NO' AS not_null,
			EXISTS (SELECT 1 FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name
				WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS pk
			FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name <> 'goose_db_version'`).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		err = db.Raw(`SELECT indexname || CASE WHEN indexdef LIKE 'CREATE UNIQUE%' THEN ' unique' ELSE '' END
			FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> 'goose_db_version' AND indexname NOT LIKE '%_pkey'`).Scan(&indexes).Error
		if err != nil {
			t.Fatal(err)
		}
	default:
		err := db.Raw(`SELECT m.name AS "table", p.name AS name, p.type AS type, p."notnull" <> 0 OR p.pk > 0 AS not_null, p.pk > 0 AS pk
			FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'goose_db_version'`).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		err = db.Raw(`SELECT m.name || CASE WHEN l."unique" THEN ' unique' ELSE '' END
			FROM sqlite_master m JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name
			WHERE m.type = 'index' AND m.name NOT LIKE 'sqlite_%' AND m.tbl_name <> 'goose_db_version'`).Scan(&indexes).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range rows {
		cols = append(cols, fmt.Sprintf("%s.%s %s notnull=%v pk=%v", c.Table, c.Name, normalizeType(c.Type), c.NotNull, c.PK))
	}
	sort.Strings(cols)
	sort.Strings(indexes)
	return cols, indexes
}

// Both dialects' migrations must describe the same schema: same tables, columns,
// types, nullability, keys and indexes.
func TestSchemasMatchAcrossDialects(t *testing.T) {
	lite := testutil.Store(t, testutil.SQLiteURL(t))
	pg := testutil.Store(t, testutil.PostgresURL(t))
	liteCols, liteIdx := schemaOf(t, lite)
	pgCols, pgIdx := schemaOf(t, pg)
	if len(liteCols) == 0 {
		t.Fatal("no columns read from SQLite")
	}
	if strings.Join(liteCols, "\n") != strings.Join(pgCols, "\n") {
		t.Errorf("columns differ\nsqlite:\n%s\n\npostgres:\n%s", strings.Join(liteCols, "\n"), strings.Join(pgCols, "\n"))
	}
	if strings.Join(liteIdx, "\n") != strings.Join(pgIdx, "\n") {
		t.Errorf("indexes differ\nsqlite: %v\npostgres: %v", liteIdx, pgIdx)
	}
}

// Several instances booting together against one new PostgreSQL database must all
// come up: goose's advisory lock makes them take turns.
func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	url := testutil.PostgresURL(t)
	const instances = 4
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	for range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := models.Open(url, testutil.Secrets(t))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if _, err := s.Migrate(context.Background()); err != nil {
				errs <- err
				return
			}
			errs <- s.Ready(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("instance failed: %v", err)
		}
	}
	s := testutil.Store(t, url)
	ws, err := s.WorkspaceByID(context.Background(), models.DefaultWorkspaceID)
	if err != nil || ws.Name != "My workspace" {
		t.Fatalf("seeded workspace = %+v, %v", ws, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	testutil.EachStore(t, func(t *testing.T, s *models.Store) {
		if err := s.DB().Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(context.Background()); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Migrate on a newer schema: err = %v, want a refusal", err)
		}
		if err := s.Ready(context.Background()); err == nil {
			t.Fatal("Ready on a newer schema must fail")
		}
	})
}
