package models

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

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

// withPgx runs fn on one of the pool's connections as a *pgx.Conn (PostgreSQL only).
func (s *Store) withPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("models: the PostgreSQL driver is %T, not pgx", dc)
		}
		return fn(sc.Conn())
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
