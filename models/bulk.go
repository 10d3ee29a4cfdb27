package models

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"sluice/migrations"
)

// copyTable is rows for copyRows: n rows into table, row(i) giving the i-th row's
// values in columns' order.
type copyTable struct {
	name    string
	columns []string
	n       int
	row     func(i int) []any
}

// copyRows writes rows into tables with PostgreSQL's COPY (pgx CopyFrom), in one
// transaction: all rows or none, at a fraction of the cost of INSERTs built by gorm. A
// run of a million records writes a million issues or timeline entries at worst, so
// this is how run outputs are written on PostgreSQL.
func (s *Store) copyRows(ctx context.Context, tables ...copyTable) error {
	if s.dialect != migrations.Postgres {
		return errors.New("models: COPY is PostgreSQL's")
	}
	return s.withPgx(ctx, func(conn *pgx.Conn) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return translatePgx(err)
		}
		defer tx.Rollback(ctx)
		for _, t := range tables {
			if t.n == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromSlice(t.n, func(i int) ([]any, error) { return t.row(i), nil })); err != nil {
				return translatePgx(err)
			}
		}
		return translatePgx(tx.Commit(ctx))
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

// rowScanner is one row of a read, from database/sql's rows or pgx's.
type rowScanner interface{ Scan(dest ...any) error }

// eachRow runs q, a query of explicit columns, and hands each row to scan. On
// PostgreSQL the rows are read through pgx directly, scanned straight into their
// fields: database/sql boxes every value into a driver.Value and converts it again
// into its field, which was most of the allocations of a list of 50 runs.
func (s *Store) eachRow(q *gorm.DB, scan func(rowScanner) error) error {
	if s.dialect != migrations.Postgres {
		rows, err := q.Rows()
		if err != nil {
			return translate(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return translate(err)
			}
		}
		return translate(rows.Err())
	}
	var none []map[string]any // the statement is built, not run
	built := q.Session(&gorm.Session{DryRun: true}).Find(&none)
	if built.Error != nil {
		return translate(built.Error)
	}
	ctx, sql, vars := built.Statement.Context, built.Statement.SQL.String(), built.Statement.Vars
	return s.withPgx(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sql, vars...)
		if err != nil {
			return translatePgx(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return translatePgx(err)
			}
		}
		return translatePgx(rows.Err())
	})
}
