// Package csvsafe writes CSV files that spreadsheets open as data, never as formulas.
//
// A cell that begins with =, +, -, @, a tab or a carriage return is read by Excel,
// LibreOffice and Google Sheets as a formula, which can run commands or send the sheet's
// contents away (CSV injection). Sluice's exports carry text it does not control (a
// destination's messages, warehouse keys), so every CSV Sluice writes goes through
// Writer, which prefixes such cells with a single quote, as OWASP recommends; the quote
// makes the spreadsheet show the cell as text. encoding/csv already doubles embedded
// double quotes and quotes cells holding commas or line breaks.
package csvsafe

import (
	"encoding/csv"
	"io"
)

// Cell is s made safe to open in a spreadsheet: s itself, or s after a single quote when
// it begins with a character that starts a formula. Negative numbers ("-5") are
// prefixed too: a spreadsheet cannot tell them from the start of a formula.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// Writer is a csv.Writer whose every cell passes through Cell.
type Writer struct {
	*csv.Writer
	row []string
}

// NewWriter writes neutralised CSV to w.
func NewWriter(w io.Writer) *Writer { return &Writer{Writer: csv.NewWriter(w)} }

// Write writes one record, each cell neutralised. The record itself is not changed.
func (w *Writer) Write(record []string) error {
	w.row = w.row[:0]
	for _, s := range record {
		w.row = append(w.row, Cell(s))
	}
	return w.Writer.Write(w.row)
}

// WriteAll writes every record, each cell neutralised, and flushes.
func (w *Writer) WriteAll(records [][]string) error {
	for _, r := range records {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
