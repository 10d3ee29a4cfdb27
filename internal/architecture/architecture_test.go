package architecture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleKeepsItsImportRules checks Sluice itself.
func TestModuleKeepsItsImportRules(t *testing.T) {
	graph, err := Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := graph["sluice/engine"]; !ok {
		t.Fatalf("go list did not see sluice/engine; saw %d packages", len(graph))
	}
	for _, v := range Check(graph, Rules) {
		t.Errorf("forbidden import: %s", v)
	}
}

// TestForbiddenImportIsCaught builds a tiny module named like Sluice whose engine imports
// its models, a view imports the handlers and a source imports a destination, and checks
// that the same loader and rules report exactly those imports.
func TestForbiddenImportIsCaught(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                   "module sluice\n\ngo 1.22\n",
		"main.go":                  "package main\n\nimport _ \"sluice/handlers\"\n\nfunc main() {}\n",
		"handlers/h.go":            "package handlers\n",
		"models/m.go":              "package models\n",
		"engine/e.go":              "package engine\n\nimport _ \"sluice/models\"\n",
		"views/v.go":               "package views\n\nimport _ \"sluice/handlers\"\n",
		"destinations/hook/d.go":   "package hook\n",
		"sources/pg/s.go":          "package pg\n\nimport _ \"sluice/destinations/hook\"\n",
		"connectors/c.go":          "package connectors\n",
		"sources/pg/clean/c.go":    "package clean\n\nimport _ \"sluice/connectors\"\n",
		"handlers/sub/sub.go":      "package sub\n\nimport _ \"sluice/handlers\"\n",
		"jobs/j.go":                "package jobs\n\nimport _ \"sluice/models\"\n",
		"destinations/hook/x/x.go": "package x\n\nimport _ \"sluice/connectors\"\n",
		"sources/pg/jobs/j.go":     "package jobs\n\nimport _ \"sluice/jobs\"\n",
		"connectors/connectortest/k.go": "package connectortest\n\nimport (\n\t_ \"strings\"\n\t_ \"testing\"\n\n\t_ \"sluice/connectors\"\n" +
			"\t_ \"sluice/sources/pg/clean\"\n)\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	graph, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range Check(graph, Rules) {
		got = append(got, v.From+" -> "+v.To)
	}
	want := []string{
		"sluice/connectors/connectortest -> sluice/sources/pg/clean",
		"sluice/engine -> sluice/models",
		"sluice/sources/pg -> sluice/destinations/hook",
		"sluice/sources/pg/jobs -> sluice/jobs",
		"sluice/views -> sluice/handlers",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"sluice/views/...", "sluice/views", true},
		{"sluice/views/...", "sluice/views/auth", true},
		{"sluice/views/...", "sluice/viewsextra", false},
		{"sluice", "sluice", true},
		{"sluice", "sluice/models", false},
		{"...", "anything/at/all", true},
		{"gorm.io/...", "gorm.io/gorm", true},
		{"std", "net/http", true},
		{"std", "testing", true},
		{"std", "sluice", false},
		{"std", "sluice/connectors", false},
		{"std", "github.com/jackc/pgx/v5", false},
	} {
		if got := match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}
