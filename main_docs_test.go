package main

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sluice/config"
	"sluice/connectors"
	"sluice/models"
	"sluice/sources/sqlite"
	"sluice/views/incidentsview"
)

var update = flag.Bool("update", false, "rewrite the generated documents")

// docs/connectors.md is what the registered connectors' specs say: a kind added or a
// field changed without regenerating it fails here.
func TestConnectorsReference(t *testing.T) {
	// The default settings: the reference shows the default data dir, wherever it runs.
	cfg, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	reg := registry(cfg)
	var out bytes.Buffer
	if err := connectors.WriteReference(&out, reg.SourceSpecs(), reg.DestinationSpecs()); err != nil {
		t.Fatal(err)
	}
	// The SQLite source's help names its folder as an absolute path: say it as the setting.
	folder, err := filepath.Abs(sqlite.Dir(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.NewBuffer(bytes.ReplaceAll(out.Bytes(), []byte(folder), []byte("SLUICE_DATA_DIR/warehouses")))
	const path = "docs/connectors.md"
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%s is out of date with the connectors' specs: run go test . -run TestConnectorsReference -update", path)
	}
}

// docs/troubleshooting.md has a row for every error category and every cause of an
// automatic pause the code declares, wherever it declares them, with the fix buttons the
// code gives: a category or a pause added, or a button renamed, fails here.
func TestTroubleshootingCoversEveryCategory(t *testing.T) {
	categories, causes := declaredCategoriesAndCauses(t)
	if len(categories) < 6 || len(causes) < 4 {
		t.Fatalf("found categories %q and pause causes %q in the code: the search is broken", categories, causes)
	}
	b, err := os.ReadFile("docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	sides := []string{models.RunSideSource, models.RunSideDestination, models.RunSideActivation, models.RunSideData}
	rows := docTable(t, doc, "## Every category, and where it is fixed")
	for _, c := range categories {
		want := []string{"`" + c + "`", connectors.Category(c).Label()}
		for _, side := range sides {
			fix := "—"
			if p, ok := models.RunFixPlace(side, c); ok {
				fix = p.Label
			}
			want = append(want, fix)
		}
		if got, ok := rows["`"+c+"`"]; !ok {
			t.Errorf("docs/troubleshooting.md has no row for category %s: want | %s |", c, strings.Join(want, " | "))
		} else if !slices.Equal(got, want) {
			t.Errorf("docs/troubleshooting.md category row\n got | %s |\nwant | %s |", strings.Join(got, " | "), strings.Join(want, " | "))
		}
	}
	for code := range rows {
		if !slices.Contains(categories, strings.Trim(code, "`")) {
			t.Errorf("docs/troubleshooting.md lists category %s, which the code does not declare", code)
		}
	}

	rows = docTable(t, doc, "## Automatic pauses, and when they lift")
	for _, c := range causes {
		fix, ok := models.PauseFixPlace(c)
		if !ok {
			t.Errorf("pause cause %s has no fix place", c)
		}
		want := []string{"`" + c + "`", incidentsview.CategoryLabel(models.Incident{Category: c}), fix.Label}
		if got, ok := rows["`"+c+"`"]; !ok || len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("docs/troubleshooting.md pause row of %s is %q, want it to start | %s |", c, got, strings.Join(want, " | "))
		}
	}
	for code := range rows {
		if !slices.Contains(causes, strings.Trim(code, "`")) {
			t.Errorf("docs/troubleshooting.md lists pause cause %s, which the code does not declare", code)
		}
	}
}

// docTable is the first table after heading, by its first cell, each row as its cells.
func docTable(t *testing.T, doc, heading string) map[string][]string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/troubleshooting.md has no heading %q", heading)
	}
	rows := map[string][]string{}
	started := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if strings.HasPrefix(cells[0], "`") {
			rows[cells[0]] = cells
		}
	}
	return rows
}

// declaredCategoriesAndCauses reads the module's Go files (tests and fakes aside) for
// constants of type Category and the models.PauseCause* constants, in declaration order.
func declaredCategoriesAndCauses(t *testing.T) (categories, causes []string) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == "internal/fakes" || path == "e2e" || strings.HasPrefix(d.Name(), ".") && path != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					switch {
					case isCategoryType(vs.Type):
						categories = append(categories, v)
					case f.Name.Name == "models" && strings.HasPrefix(name.Name, "PauseCause"):
						causes = append(causes, v)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return categories, causes
}

func isCategoryType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Category"
	case *ast.SelectorExpr:
		return e.Sel.Name == "Category"
	}
	return false
}
