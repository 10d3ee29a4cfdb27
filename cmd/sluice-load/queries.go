package main

import (
	"fmt"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// queryLog records the SQL statements the store runs while it is on, to show what one
// request of an endpoint costs in queries (-queries).
type queryLog struct {
	mu  sync.Mutex
	on  bool
	sql []string
}

// watch registers the log on every kind of statement gorm runs.
func (l *queryLog) watch(db *gorm.DB) error {
	note := func(tx *gorm.DB) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.on {
			l.sql = append(l.sql, strings.Join(strings.Fields(tx.Statement.SQL.String()), " "))
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("load:query", note),
		cb.Row().After("gorm:row").Register("load:row", note),
		cb.Raw().After("gorm:raw").Register("load:raw", note),
		cb.Create().After("gorm:create").Register("load:create", note),
		cb.Update().After("gorm:update").Register("load:update", note),
		cb.Delete().After("gorm:delete").Register("load:delete", note),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// during runs f with the log on and returns the statements f ran.
func (l *queryLog) during(f func() error) ([]string, error) {
	l.mu.Lock()
	l.on, l.sql = true, nil
	l.mu.Unlock()
	err := f()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.sql, err
}

// printQueries prints an endpoint's statements, numbered.
func printQueries(name string, sql []string) {
	fmt.Printf("%s: %d queries\n", name, len(sql))
	for i, q := range sql {
		fmt.Printf("  %2d. %s\n", i+1, q)
	}
}
