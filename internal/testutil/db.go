// Package testutil gives tests a fresh, migrated database of each dialect.
package testutil

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for creating test databases

	"sluice/models"
	"sluice/secrets"
)

// PostgresAdminURL is where test databases are created. SLUICE_TEST_POSTGRES_URL overrides it.
func PostgresAdminURL() string {
	if u := os.Getenv("SLUICE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// SQLiteURL returns the URL of a new SQLite file in the test's temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "sluice.db")
}

// PostgresURL creates an empty PostgreSQL database for this test and drops it after.
// Without a reachable server the test is skipped, unless CI is set: there it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", PostgresAdminURL())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set SLUICE_TEST_POSTGRES_URL): %v", PostgresAdminURL(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Dialects lists the database URLs factories every store test runs on.
var Dialects = []struct {
	Name string
	URL  func(testing.TB) string
}{
	{"sqlite", SQLiteURL},
	{"postgres", PostgresURL},
}

// Store opens and migrates a store at url, closed when the test ends.
func Store(t testing.TB, url string) *models.Store {
	t.Helper()
	s, err := models.Open(url, Secrets(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// EachStore runs fn once per dialect, each with a fresh migrated store.
func EachStore(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	for _, d := range Dialects {
		t.Run(d.Name, func(t *testing.T) { fn(t, Store(t, d.URL(t))) })
	}
}

// Admin creates the first admin through setup and returns it with its actor.
func Admin(t testing.TB, s *models.Store) (*models.User, models.Actor) {
	t.Helper()
	u, err := s.SetupFirstAdmin(context.Background(), "Acme", models.NewUser{Email: "admin@example.com", Name: "Ada Admin", Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	return u, ActorOf(u)
}

// ActorOf is the actor a signed-in user acts as.
func ActorOf(u *models.User) models.Actor {
	return models.Actor{WorkspaceID: u.WorkspaceID, Type: models.ActorUser, ID: u.ID, Name: u.Email, Role: u.Role}
}

// Password is a valid password for test users.
const Password = "correct horse battery"

// Secrets is a box under a fixed test key.
func Secrets(t testing.TB) *secrets.Box {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	b, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
