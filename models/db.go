// Package models holds Sluice's own records (gorm entities) and the stores that read
// and write them. Every query takes the workspace it is scoped to.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"sluice/migrations"
	"sluice/secrets"
)

// Sentinel errors every store returns instead of driver errors.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the actor may not do this whatever the input, e.g. manage the
	// workspaces of an organization they do not own.
	ErrForbidden = errors.New("forbidden")
)

// DefaultWorkspaceID is the workspace the first migration creates.
const DefaultWorkspaceID = "00000000-0000-7000-8000-000000000001"

// Store is the one entry point to Sluice's records.
type Store struct {
	db      *gorm.DB
	dialect migrations.Dialect
	secrets *secrets.Box
	now     func() time.Time
	// grantLocks serialise the refreshes of one platform's grant within this store
	// (RefreshGrant), by platform id.
	grantLocks sync.Map
}

// Open connects to the database a URL names: postgres://… or sqlite:///path. Every
// credential the store keeps is sealed with box.
func Open(databaseURL string, box *secrets.Box) (*Store, error) {
	cfg := &gorm.Config{TranslateError: true, Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	var (
		db  *gorm.DB
		err error
		d   migrations.Dialect
	)
	switch {
	case strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("models: create database dir: %w", err)
		}
		// WAL lets readers run beside the one writer; immediate transactions take the
		// write lock up front so two writers queue instead of failing mid-transaction.
		dsn := path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err = gorm.Open(sqlite.Open(dsn), cfg)
		d = migrations.SQLite
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		db, err = gorm.Open(postgres.Open(databaseURL), cfg)
		d = migrations.Postgres
	default:
		return nil, errors.New("models: database URL must start with postgres:// or sqlite://")
	}
	if err != nil {
		return nil, fmt.Errorf("models: open database: %w", err)
	}
	if d == migrations.SQLite {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		// WAL readers run in parallel; writers queue on the immediate lock and busy_timeout.
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		// database/sql keeps 2 idle connections by default: under concurrent requests
		// every other query would open a connection (a PostgreSQL backend) and close it,
		// which cost more than the queries themselves (docs/benchmarks.md, "Pages and API
		// under load").
		sqlDB.SetMaxIdleConns(32)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		db.ClauseBuilders["LIMIT"] = literalLimit
	}
	return &Store{db: db, dialect: d, secrets: box, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Migrate applies pending migrations (safe to call from several instances at once).
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return 0, err
	}
	version, err := migrations.Up(ctx, sqlDB, s.dialect)
	if err != nil {
		return version, err
	}
	if err := s.movePerKeyState(ctx); err != nil {
		return version, err
	}
	if err := s.sealQueuedInvitations(ctx); err != nil {
		return version, err
	}
	return version, s.sealURLSecrets(ctx)
}

// Ready reports whether the database answers and is migrated to this binary's version.
func (s *Store) Ready(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("models: ping: %w", err)
	}
	current, latest, err := migrations.Status(ctx, sqlDB, s.dialect)
	if err != nil {
		return err
	}
	if current != latest {
		return fmt.Errorf("models: schema at version %d, want %d", current, latest)
	}
	return nil
}

// Secrets is the box the store seals credentials with; sessions derive their keys from it.
func (s *Store) Secrets() *secrets.Box { return s.secrets }

// Dialect tells which engine the store runs on.
func (s *Store) Dialect() migrations.Dialect { return s.dialect }

// DB exposes the gorm handle for tests and schema checks only.
func (s *Store) DB() *gorm.DB { return s.db }

// Close releases the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// byID loads one T of a workspace: every lookup is scoped, so another workspace's id
// is simply not found.
func byID[T any](ctx context.Context, s *Store, workspaceID, id string) (*T, error) {
	var v T
	if err := s.db.WithContext(ctx).Where("workspace_id = ? AND id = ?", workspaceID, id).Take(&v).Error; err != nil {
		return nil, translate(err)
	}
	return &v, nil
}

// listByName lists a workspace's T by name.
func listByName[T any](ctx context.Context, s *Store, workspaceID string) ([]T, error) {
	var out []T
	err := s.db.WithContext(ctx).Where("workspace_id = ?", workspaceID).Order("name").Find(&out).Error
	return out, translate(err)
}

// refuseDependents answers a *DependentsError when rows of T point at id through
// column, so nothing is deleted from under them.
// deleteUnused deletes the workspace's T of this id in one transaction with its audit
// entry (audit names it), refused with a *DependentsError while rows of D point at it
// through column.
func deleteUnused[T, D any](ctx context.Context, s *Store, a Actor, id, column, kind string, describe func(*D) (id, name string), audit func(*T) change) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row T
		if err := tx.Where("workspace_id = ? AND id = ?", a.WorkspaceID, id).Take(&row).Error; err != nil {
			return translate(err)
		}
		if err := refuseDependents(tx, a.WorkspaceID, column, id, kind, describe); err != nil {
			return err
		}
		if err := tx.Delete(&row).Error; err != nil {
			return translate(err)
		}
		return s.record(tx, a, audit(&row))
	})
}

func refuseDependents[T any](tx *gorm.DB, workspaceID, column, id, kind string, describe func(*T) (id, name string)) error {
	var deps []T
	if err := tx.Where("workspace_id = ? AND "+column+" = ?", workspaceID, id).Order("name").Find(&deps).Error; err != nil {
		return translate(err)
	}
	if len(deps) == 0 {
		return nil
	}
	e := &DependentsError{}
	for i := range deps {
		depID, name := describe(&deps[i])
		e.Dependents = append(e.Dependents, Dependent{Type: kind, ID: depID, Name: name})
	}
	return e
}

// translate maps gorm errors to the store's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// isUniqueViolation catches SQLite's constraint errors, which the pure-Go driver does
// not always translate.
func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE")
}

// literalLimit writes a query's LIMIT as a number instead of a parameter. PostgreSQL
// plans a prepared statement afresh on every execution while its generic plan looks
// dearer than a custom one, and with LIMIT $n the generic plan must guess the limit
// (a tenth of the rows) and always looks dearer: the lists' statements were planned on
// every request, which took longer than running them. A number keeps both estimates
// equal, so the plan is made once per connection. The offset stays a parameter: it
// varies from page to page, and each value would be another prepared statement.
func literalLimit(c clause.Clause, b clause.Builder) {
	l, ok := c.Expression.(clause.Limit)
	if !ok {
		c.Build(b)
		return
	}
	if l.Limit != nil && *l.Limit >= 0 {
		b.WriteString("LIMIT " + strconv.Itoa(*l.Limit))
		l.Limit = nil
		if l.Offset > 0 {
			b.WriteByte(' ')
		}
	}
	l.Build(b)
}
