package models

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"sluice/migrations"
)

// copyRows writes n rows into table with PostgreSQL's COPY (pgx CopyFrom): one
// statement, all rows or none, at a fraction of the cost of INSERTs built by gorm. A
// run of a million records writes a million timeline entries, so this is how run
// outputs are written on PostgreSQL; row(i) gives the i-th row's values in columns' order.
func (s *Store) copyRows(ctx context.Context, table string, columns []string, n int, row func(i int) []any) error {
	if s.dialect != migrations.Postgres {
		return errors.New("models: COPY is PostgreSQL's")
	}
	return s.withPgx(ctx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
		return translatePgx(err)
	})
}

// translatePgx maps constraint violations of a statement sent through pgx directly to
// the store's sentinels, as translate does for gorm's.
func translatePgx(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "23503") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return translate(err)
}
