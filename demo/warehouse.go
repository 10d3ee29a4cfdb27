// Package demo builds the sample data of the demo workspace: a small SQLite warehouse
// of customers, so a newcomer can connect a source, model it and build segments at once.
package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" database/sql driver
)

var (
	firstNames = []string{"Alice", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Greta", "Hugo", "Inès", "Jonas", "Kenji", "Lena", "Marta", "Noah", "Olga", "Pablo"}
	countries  = []string{"FR", "FR", "FR", "DE", "DE", "ES", "IT", "GB", "US", "US", "NL", "BE"}
	domains    = []string{"example.com", "mail.example", "acme.example", "post.example"}
)

// WriteWarehouse creates (or replaces) a SQLite warehouse at path with `customers`
// rows: deterministic, with the flaws real data has (a few invalid e-mails and phones,
// unknown values) and a `newsletter_signups` table whose e-mail key repeats a little.
func WriteWarehouse(ctx context.Context, path string, customers int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE customers (
			id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, country TEXT, phone TEXT,
			age INTEGER, lifetime_value REAL, vip BOOLEAN NOT NULL, signed_up_at DATETIME, last_order_on DATE)`,
		`CREATE TABLE newsletter_signups (email TEXT, source TEXT, signed_up_at DATETIME)`,
		`CREATE VIEW vip_customers AS SELECT * FROM customers WHERE vip`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(42, 7))
	now := time.Now().UTC().Truncate(time.Second)
	ins, err := tx.PrepareContext(ctx, `INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := 1; i <= customers; i++ {
		name := firstNames[r.IntN(len(firstNames))]
		email := any(fmt.Sprintf("%s.%d@%s", name, i, domains[r.IntN(len(domains))]))
		switch {
		case i%97 == 0:
			email = "not-an-email"
		case i%89 == 0:
			email = nil
		}
		country := any(countries[r.IntN(len(countries))])
		if i%53 == 0 {
			country = nil
		}
		phone := any(fmt.Sprintf("+33 6 %02d %02d %02d %02d", 10+r.IntN(80), r.IntN(100), r.IntN(100), r.IntN(100)))
		if i%71 == 0 {
			phone = "12"
		}
		age := any(18 + r.IntN(60))
		if i%61 == 0 {
			age = nil
		}
		signed := now.Add(-time.Duration(r.IntN(900*24)) * time.Hour)
		lastOrder := any(signed.Add(time.Duration(r.IntN(200*24)) * time.Hour).Format(time.DateOnly))
		if i%5 == 0 {
			lastOrder = nil
		}
		ltv := float64(r.IntN(500000)) / 100
		vip := ltv > 3500
		if _, err := ins.ExecContext(ctx, i, email, name, country, phone, age, ltv, vip, signed.Format(time.DateTime), lastOrder); err != nil {
			return fmt.Errorf("demo: insert customer: %w", err)
		}
	}
	sig, err := tx.PrepareContext(ctx, `INSERT INTO newsletter_signups VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := 1; i <= customers/2; i++ {
		email := fmt.Sprintf("reader%d@example.com", i)
		if i%50 == 0 { // 2% of signups repeat an earlier address (4% of rows share a key)
			email = fmt.Sprintf("reader%d@example.com", i-1)
		}
		if _, err := sig.ExecContext(ctx, email, []string{"footer", "checkout", "popup"}[i%3], now.Add(-time.Duration(i)*time.Hour).Format(time.DateTime)); err != nil {
			return fmt.Errorf("demo: insert signup: %w", err)
		}
	}
	return tx.Commit()
}
