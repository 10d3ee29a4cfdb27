package core

import (
	"slices"
	"strings"
	"unicode"

	"sluice/connectors"
)

// ColumnSuggestion is a column of the warehouse offered as the new name of a lost one.
type ColumnSuggestion struct {
	Column connectors.Column
	// SameType is true when its normalized type is the lost column's.
	SameType bool
	// Similarity of the names, from 0 (nothing shared) to 1 (the same once normalized).
	Similarity float64
}

// SuggestColumns ranks the columns that are in the warehouse now but not in the model's
// snapshot as candidates for the lost column: same normalized type first, then the most
// similar name (edit distance or shared words, whichever says more), then by name.
func SuggestColumns(lost connectors.Column, snapshot, current []connectors.Column) []ColumnSuggestion {
	known := map[string]bool{}
	for _, c := range snapshot {
		known[c.Name] = true
	}
	var out []ColumnSuggestion
	for _, c := range current {
		if known[c.Name] {
			continue
		}
		out = append(out, ColumnSuggestion{Column: c, SameType: c.Type == lost.Type, Similarity: NameSimilarity(lost.Name, c.Name)})
	}
	slices.SortStableFunc(out, func(a, b ColumnSuggestion) int {
		switch {
		case a.SameType != b.SameType:
			if a.SameType {
				return -1
			}
			return 1
		case a.Similarity > b.Similarity:
			return -1
		case a.Similarity < b.Similarity:
			return 1
		}
		return strings.Compare(a.Column.Name, b.Column.Name)
	})
	return out
}

// NameSimilarity compares two column names once lower-cased and split into words
// (snake_case, kebab-case, camelCase): the larger of one minus the normalized edit
// distance of the joined words, and the share of words in common.
func NameSimilarity(a, b string) float64 {
	wa, wb := nameWords(a), nameWords(b)
	ja, jb := strings.Join(wa, ""), strings.Join(wb, "")
	if ja == "" || jb == "" {
		return 0
	}
	longest := max(len([]rune(ja)), len([]rune(jb)))
	edit := 1 - float64(editDistance(ja, jb))/float64(longest)
	shared, union := 0, map[string]bool{}
	for _, w := range wa {
		union[w] = true
	}
	for _, w := range wb {
		if union[w] && slices.Contains(wa, w) {
			shared++
		}
		union[w] = true
	}
	words := float64(shared) / float64(len(union))
	return max(edit, words)
}

// nameWords splits a column name into lower-case words.
func nameWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prev := rune(0)
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return slices.Compact(words)
}

// editDistance is the Levenshtein distance between two strings, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
