package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sluice/migrations"
)

// sealedColumn is a column holding values sealed by the store's box, each bound to an
// owner that its row's key names.
type sealedColumn struct {
	table, column, key string
	// filter keeps the rows whose column is sealed (the outbox seals Slack targets only).
	filter string
	args   []any
	owner  func(key string) string
}

func (c sealedColumn) name() string { return c.table + "." + c.column }

// sealedColumns is every column that holds sealed values. A column sealed anywhere else
// would stay under the old key after a rotation and stop opening once that key is gone:
// TestSealedColumnsAreAllRotated keeps this list and the schema in step.
func sealedColumns() []sealedColumn {
	return []sealedColumn{
		{table: "sources", column: "secrets_sealed", key: "id", owner: func(id string) string { return (&Source{ID: id}).sealOwner() }},
		{table: "platforms", column: "secrets_sealed", key: "id", owner: func(id string) string { return (&Platform{ID: id}).sealOwner() }},
		{table: "platforms", column: "oauth_sealed", key: "id", owner: func(id string) string { return (&Platform{ID: id}).grantOwner() }},
		{table: "alert_settings", column: "slack_sealed", key: "workspace_id", owner: alertSealOwner},
		{table: "alert_outbox", column: "target", key: "id", filter: "channel = ?", args: []any{ChannelSlack},
			owner: func(id string) string { return (&OutboxMessage{ID: id}).sealOwner() }},
		{table: "alert_outbox", column: "payload_sealed", key: "id", owner: func(id string) string { return (&OutboxMessage{ID: id}).bodyOwner() }},
		{table: "oauth_states", column: "sealed", key: "state_hash", owner: func(hash string) string { return "oauth-state:" + hash }},
		{table: "sso_configs", column: "secret_sealed", key: "organization_id", owner: func(org string) string { return (&SSOConfig{OrganizationID: org}).secretOwner() }},
		{table: "sso_states", column: "sealed", key: "state_hash", owner: func(hash string) string { return "sso-state:" + hash }},
		{table: "saml_configs", column: "sp_key_sealed", key: "organization_id", owner: func(org string) string { return (&SAMLConfig{OrganizationID: org}).keyOwner() }},
	}
}

// SealedColumns names ("table.column") every column whose values a rotation re-seals.
func SealedColumns() []string {
	var out []string
	for _, c := range sealedColumns() {
		out = append(out, c.name())
	}
	return out
}

// SecretsCount is how the stored sealed values open under the store's box: what a
// rotation has left to do, and whether the previous key may be dropped (Previous and
// Unreadable both empty).
type SecretsCount struct {
	// Current is the values sealed under the current key.
	Current int
	// Previous is the values only a previous key opens: a rotation re-seals them.
	Previous int
	// Unreadable names the owners of values no key of the box opens.
	Unreadable []string
}

// ErrUnreadableSecrets means some stored values open under no key the store was given:
// a rotation refuses to start, so that a wrong previous key changes nothing.
var ErrUnreadableSecrets = errors.New("models: stored secrets no key opens")

// rotateBatch is how many rows one transaction re-seals: short enough that the row locks
// it holds delay a concurrent edit or token refresh by milliseconds only.
const rotateBatch = 100

// CountSecrets reads every sealed value and tells which key opens it. It takes no lock.
func (s *Store) CountSecrets(ctx context.Context) (SecretsCount, error) {
	var out SecretsCount
	if s.secrets == nil {
		return out, errNoSecretKey
	}
	for _, c := range sealedColumns() {
		err := s.eachSealedPage(ctx, s.db, c, false, func(_ *gorm.DB, rows []sealedRow) error {
			for _, r := range rows {
				current, err := s.secrets.Current(r.V, c.owner(r.K))
				switch {
				case err != nil:
					out.Unreadable = append(out.Unreadable, c.owner(r.K))
				case current:
					out.Current++
				default:
					out.Previous++
				}
			}
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// RotateSecrets re-seals under the current key every stored value that only a previous
// key of the store's box opens, and returns how many it re-sealed.
//
// Other instances keep running meanwhile, with the new key first and the old one as a
// fallback (see docs/operations.md). Rows are re-sealed in batches, each in its own
// transaction that locks its rows (FOR UPDATE on PostgreSQL; SQLite's immediate
// transactions hold the write lock), and a row is written only if it still holds the
// value read, so an edit or a token refresh made meanwhile is never overwritten. An
// interrupted rotation leaves every row readable under the ring and is resumed by
// running it again; a second run finds nothing to do.
//
// Before writing anything every value is read: if any opens under no key of the box (a
// wrong previous key) it returns ErrUnreadableSecrets and changes nothing.
func (s *Store) RotateSecrets(ctx context.Context) (int, error) {
	count, err := s.CountSecrets(ctx)
	if err != nil {
		return 0, err
	}
	if n := len(count.Unreadable); n > 0 {
		shown := count.Unreadable[:min(n, 5)]
		return 0, fmt.Errorf("%w: %d of %d (%s), nothing was re-sealed", ErrUnreadableSecrets, n,
			n+count.Current+count.Previous, strings.Join(shown, ", "))
	}
	if count.Previous == 0 {
		return 0, nil
	}
	resealed := 0
	for _, c := range sealedColumns() {
		err := s.eachSealedPage(ctx, s.db, c, true, func(tx *gorm.DB, rows []sealedRow) error {
			for _, r := range rows {
				out, changed, err := s.secrets.Reseal(r.V, c.owner(r.K))
				if err != nil {
					return fmt.Errorf("models: re-seal %s: %w", c.owner(r.K), err)
				}
				if !changed {
					continue
				}
				q := fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ? AND %s = ?", c.table, c.column, c.key, c.column)
				res := tx.Exec(q, out, r.K, r.V)
				if res.Error != nil {
					return fmt.Errorf("models: re-seal %s: %w", c.owner(r.K), translate(res.Error))
				}
				resealed += int(res.RowsAffected)
			}
			return nil
		})
		if err != nil {
			return resealed, err
		}
	}
	return resealed, nil
}

// sealedRow is one sealed value and its row's key.
type sealedRow struct {
	K string
	V string
}

// eachSealedPage hands fn the non-empty values of c, rotateBatch rows at a time in key
// order; with lock, each page is read and handled in its own transaction with its rows
// locked, and fn's error rolls that page back.
func (s *Store) eachSealedPage(ctx context.Context, db *gorm.DB, c sealedColumn, lock bool, fn func(tx *gorm.DB, rows []sealedRow) error) error {
	after := ""
	for {
		var rows []sealedRow
		page := func(tx *gorm.DB) error {
			q := tx.Table(c.table).Select(c.key+" AS k, "+c.column+" AS v").
				Where(c.key+" > ? AND "+c.column+" <> ''", after).Order(c.key).Limit(rotateBatch)
			if c.filter != "" {
				q = q.Where(c.filter, c.args...)
			}
			if lock && s.dialect == migrations.Postgres {
				q = q.Clauses(clause.Locking{Strength: "UPDATE"})
			}
			if err := q.Scan(&rows).Error; err != nil {
				return fmt.Errorf("models: read %s: %w", c.name(), translate(err))
			}
			if len(rows) == 0 {
				return nil
			}
			return fn(tx, rows)
		}
		var err error
		if lock {
			err = db.WithContext(ctx).Transaction(page)
		} else {
			err = page(db.WithContext(ctx))
		}
		if err != nil {
			return err
		}
		if len(rows) < rotateBatch {
			return nil
		}
		after = rows[len(rows)-1].K
	}
}
