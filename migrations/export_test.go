package migrations

import (
	"context"
	"database/sql"
)

// UpTo applies the migrations up to version, so a test can put rows in an older schema.
func UpTo(ctx context.Context, db *sql.DB, d Dialect, version int64) error {
	p, err := provider(db, d)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}
