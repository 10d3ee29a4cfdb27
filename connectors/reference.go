package connectors

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteReference writes the connectors reference (docs/connectors.md) from the specs of
// the registered kinds: each source's form, each platform's settings, authorization,
// pacing and actions with their fields. It is generated so that it cannot drift from
// what the forms and the engine use.
func WriteReference(w io.Writer, sources []SourceSpec, destinations []DestinationSpec) error {
	var b strings.Builder
	b.WriteString("<!-- Generated from the connectors' specs by `go test . -run TestConnectorsReference -update`; do not edit. -->\n\n")
	b.WriteString("# Connectors reference\n\n")
	b.WriteString("What each source and platform kind asks for, and what it can do. Secret fields are stored\n")
	b.WriteString("encrypted and never shown back.\n\n")
	b.WriteString("## Sources\n\n")
	for _, s := range sources {
		fmt.Fprintf(&b, "### %s (`%s`)\n\n", s.Label, s.Kind)
		writeFields(&b, s.Fields)
	}
	b.WriteString("## Platforms\n\n")
	for _, d := range destinations {
		fmt.Fprintf(&b, "### %s (`%s`)\n\n", d.Label, d.Kind)
		fmt.Fprintf(&b, "Authorization: %s.", authWords(d))
		if d.RequestsPerSecond > 0 {
			fmt.Fprintf(&b, " Paced at %s requests per second (bursts of %d), under the platform's documented limit, shared by all its activations and instances.", strconv.FormatFloat(d.RequestsPerSecond, 'f', -1, 64), d.Burst)
		}
		b.WriteString("\n\n")
		if len(d.Config) > 0 {
			b.WriteString("Settings:\n\n")
			writeFields(&b, d.Config)
		}
		for _, a := range d.Actions {
			fmt.Fprintf(&b, "#### Action: %s (`%s`)\n\n", a.Label, a.Name)
			limits := []string{}
			if a.BatchSize > 0 {
				limits = append(limits, fmt.Sprintf("up to %d records a request", a.BatchSize))
			}
			if a.MaxBatchBytes > 0 {
				limits = append(limits, fmt.Sprintf("at most %d bytes a request", a.MaxBatchBytes))
			}
			if a.Removals {
				limits = append(limits, "sends removals when records leave the segment")
			} else {
				limits = append(limits, "does not send removals")
			}
			if a.Custom {
				limits = append(limits, "fields beyond those listed may be mapped")
			}
			fmt.Fprintf(&b, "%s.\n\n", capitalize(strings.Join(limits, "; ")))
			if len(a.Fields) > 0 {
				b.WriteString("| field | label | kind | required | identifier |\n| --- | --- | --- | --- | --- |\n")
				for _, f := range a.Fields {
					fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, cell(f.Label), f.Kind, yes(f.Required), yes(f.Identifier))
				}
				b.WriteString("\n")
			}
			if len(a.Settings) > 0 {
				b.WriteString("Chosen on each activation:\n\n")
				writeFields(&b, a.Settings)
			}
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func writeFields(b *strings.Builder, fields []FieldSpec) {
	if len(fields) == 0 {
		b.WriteString("No settings.\n\n")
		return
	}
	b.WriteString("| field | label | type | required | default | help |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, f := range fields {
		typ := string(f.Type)
		if f.Secret {
			typ += ", secret"
		}
		if f.Generated {
			typ += ", set by Sluice"
		}
		if len(f.Options) > 0 {
			typ += ": " + strings.Join(f.Options, ", ")
		}
		def := ""
		if f.Default != "" {
			def = "`" + f.Default + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Name, cell(f.Label), cell(typ), yes(f.Required), def, cell(f.Help))
	}
	b.WriteString("\n")
}

func authWords(d DestinationSpec) string {
	switch {
	case d.Auth == AuthOAuth && d.OAuth != nil:
		s := "OAuth 2.0 with " + d.OAuth.Provider + " (Connect, then Re-authorize when the grant ends)"
		if len(d.OAuth.Scopes) > 0 {
			s += "; scopes `" + strings.Join(d.OAuth.Scopes, "`, `") + "`"
		}
		return s
	case d.Auth == AuthAPIKey:
		return "an API key or token, kept encrypted"
	default:
		return "none beyond the settings below"
	}
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
