// Package demo builds the demo workspace: a small SQLite warehouse of customers and
// their orders, and the objects that tell Sluice's story on it (models, segments,
// platforms, activations in every state and their run history).
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
	tiers      = []string{"silver", "silver", "silver", "gold", "gold", "platinum"}
)

// WriteWarehouse creates (or replaces) a SQLite warehouse at path with `customers`
// rows and their orders: deterministic, with the flaws real data has (a few invalid
// e-mails and phones, unknown values), a `newsletter_signups` table whose e-mail key
// repeats a little, and a clean `loyalty_members` table.
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
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, ordered_on DATE NOT NULL, amount REAL NOT NULL, status TEXT NOT NULL)`,
		`CREATE TABLE newsletter_signups (email TEXT, source TEXT, signed_up_at DATETIME)`,
		`CREATE TABLE loyalty_members (member_id INTEGER PRIMARY KEY, email TEXT NOT NULL, mobile TEXT NOT NULL, tier TEXT NOT NULL, points INTEGER NOT NULL)`,
		`CREATE VIEW vip_customers AS SELECT * FROM customers WHERE vip`,
		`CREATE VIEW customer_activity AS SELECT id, email, first_name, country, lifetime_value, last_order_on,
			CAST(julianday('now') - julianday(last_order_on) AS INTEGER) AS days_since_last_order
			FROM customers WHERE last_order_on IS NOT NULL`,
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
	ord, err := tx.PrepareContext(ctx, `INSERT INTO orders VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	orderID := 0
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
		signed := now.Add(-time.Duration(24+r.IntN(900*24)) * time.Hour)
		// Orders between the signup and now; the lifetime value and the last order
		// are theirs, as a warehouse's rollup would have them.
		ltv, last := 0.0, any(nil)
		days := int(now.Sub(signed).Hours() / 24)
		for range r.IntN(7) {
			orderID++
			on := signed.AddDate(0, 0, r.IntN(days+1))
			amount := float64(2000+r.IntN(88000)) / 100
			status := "paid"
			if r.IntN(20) == 0 {
				status = "refunded"
			} else {
				ltv += amount
			}
			if l, ok := last.(time.Time); !ok || on.After(l) {
				last = on
			}
			if _, err := ord.ExecContext(ctx, orderID, i, on.Format(time.DateOnly), amount, status); err != nil {
				return fmt.Errorf("demo: insert order: %w", err)
			}
		}
		if l, ok := last.(time.Time); ok {
			last = l.Format(time.DateOnly)
		}
		ltv = float64(int(ltv*100)) / 100
		vip := ltv > 2500
		if _, err := ins.ExecContext(ctx, i, email, name, country, phone, age, ltv, vip, signed.Format(time.DateTime), last); err != nil {
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
	loy, err := tx.PrepareContext(ctx, `INSERT INTO loyalty_members VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := 1; i <= customers/6; i++ {
		mobile := fmt.Sprintf("+33 7 %02d %02d %02d %02d", 10+r.IntN(80), r.IntN(100), r.IntN(100), r.IntN(100))
		if _, err := loy.ExecContext(ctx, 1000+i, fmt.Sprintf("member%d@example.com", i), mobile, tiers[r.IntN(len(tiers))], r.IntN(20000)); err != nil {
			return fmt.Errorf("demo: insert loyalty member: %w", err)
		}
	}
	return tx.Commit()
}
