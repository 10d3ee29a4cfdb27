// Package architecture holds the import rules that keep Sluice's packages in their
// rooms (STYLE.md, "Dependency direction"), and the loader that checks a module against
// them. The rules are tested over the real module on every test run.
package architecture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
)

// Rule forbids packages matching From to import packages matching To. Patterns are
// import paths; a trailing "/..." matches the package and everything below it, and
// "std" matches the standard library.
type Rule struct {
	From, To string
	// Except lists importers the rule does not apply to.
	Except []string
	// Allow lists imports the rule does not apply to: with To "...", what From may import.
	Allow []string
	Why   string
}

// Rules are Sluice's import rules. The module path is "sluice".
var Rules = []Rule{
	{From: "sluice/views/...", To: "sluice/handlers/...", Why: "views render what they are given; they know no handlers"},
	{From: "sluice/engine/...", To: "sluice/models/...", Why: "the engine reaches stored state only through the narrow interfaces it declares"},
	{From: "sluice/engine/...", To: "gorm.io/...", Why: "the engine knows no database library"},
	{From: "sluice/connectors/...", To: "sluice/models/...", Why: "connectors are the contract with the outside world, not with Sluice's records"},
	{From: "sluice/connectors/...", To: "gorm.io/...", Why: "connectors know no database library"},
	{From: "sluice/sources/...", To: "sluice/models/...", Why: "a connector imports connectors, never Sluice's records"},
	{From: "sluice/sources/...", To: "gorm.io/...", Why: "a connector knows no database library"},
	{From: "sluice/destinations/...", To: "sluice/models/...", Why: "a connector imports connectors, never Sluice's records"},
	{From: "sluice/destinations/...", To: "gorm.io/...", Why: "a connector knows no database library"},
	{From: "sluice/sources/...", To: "sluice/destinations/...", Why: "sources and destinations meet only in the engine"},
	{From: "sluice/destinations/...", To: "sluice/sources/...", Why: "sources and destinations meet only in the engine"},
	{From: "...", To: "sluice/handlers/...", Except: []string{"sluice", "sluice/cmd/sluice-load", "sluice/handlers/..."}, Why: "only main (and the load benchmark, which serves it in-process) wires the HTTP layer"},
	{From: "sluice/connectors/connectortest", To: "...", Allow: []string{"sluice/connectors", "testing", "std"},
		Why: "the conformance kit is the contract's test: it knows connectors and the standard library, no connector nor any other package"},
	{From: "sluice/connectors/...", To: "sluice/...", Allow: []string{"sluice/connectors/..."},
		Why: "the contract depends on nothing of Sluice's: every other package depends on it"},
	{From: "sluice/sources/...", To: "sluice/...", Allow: []string{"sluice/connectors", "sluice/sources/..."},
		Why: "a connector imports connectors (and code shared by sources), nothing else of Sluice's"},
	{From: "sluice/destinations/...", To: "sluice/...", Allow: []string{"sluice/connectors", "sluice/destinations/..."},
		Why: "a connector imports connectors (and code shared by destinations), nothing else of Sluice's"},
	{From: "...", To: "sluice/engine/...", Except: []string{"sluice/engine/...", "sluice/jobs/...", "sluice/cmd/..."},
		Why: "jobs is the one place where the engine's types and stored types meet"},
	{From: "sluice/core/...", To: "sluice/jobs/...", Why: "core is the door for writes; the run queue calls it, not the other way round"},
	{From: "sluice/notify/...", To: "sluice/...", Allow: []string{"sluice/notify/..."},
		Why: "notify renders and delivers the message it is given: jobs builds it from stored records and hands it the HTTP client that refuses private addresses"},
	{From: "sluice/views/...", To: "sluice/...", Allow: []string{"sluice/views/...", "sluice/models", "sluice/connectors", "sluice/segments"},
		Why: "views render models (and the connector specs and conditions they show); they call no service"},
}

// Violation is one forbidden import.
type Violation struct {
	From, To string
	Rule     Rule
}

func (v Violation) String() string {
	return fmt.Sprintf("%s imports %s: %s", v.From, v.To, v.Rule.Why)
}

// match reports whether path matches pattern ("x/..." matches x and below; "..." all;
// "std" the standard library).
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if pattern == "std" {
		return isStd(path)
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// Check returns every import in graph (package → its direct imports) that a rule forbids,
// once each, sorted for stable output.
func Check(graph map[string][]string, rules []Rule) []Violation {
	var out []Violation
	for from, imports := range graph {
		for _, to := range imports {
			for _, r := range rules {
				if !match(r.From, from) || !match(r.To, to) || excepted(r, from) || allowed(r, to) {
					continue
				}
				out = append(out, Violation{From: from, To: to, Rule: r})
				break // one report per import, from the first rule that forbids it
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// isStd reports whether path is in the standard library: its first element has no dot
// (as the go command decides), and it is not the module, whose path "sluice" has none
// either.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != "sluice"
}

func allowed(r Rule, to string) bool {
	for _, a := range r.Allow {
		if match(a, to) {
			return true
		}
	}
	return false
}

func excepted(r Rule, from string) bool {
	for _, e := range r.Except {
		if match(e, from) {
			return true
		}
	}
	return false
}

// Load lists the direct (non-test) imports of every package of the module in dir, with
// `go list`, which sees exactly what the build sees (build tags, generated files).
func Load(dir string) (map[string][]string, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("architecture: go list: %w: %s", err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("architecture: read go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("architecture: package %s: %s", p.ImportPath, p.Error.Err)
		}
		graph[p.ImportPath] = p.Imports
	}
	return graph, nil
}
