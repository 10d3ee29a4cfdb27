// Package connectortest is the conformance kit every source and destination connector
// runs in its own tests: Source and Destination check, against a backend the test
// provides (a database, a temporary file, an httptest server, memory), what the rest of
// Sluice relies on without knowing the kind:
//
//   - spec: the kind, label and form fields are well formed (names, labels, types,
//     secrets typed and marked as such, select options, defaults), and a destination's
//     actions (fields, identifiers, batch size) and rate limit make sense;
//   - errors: bad settings are refused at Open with a configuration error naming the
//     field; a backend that fails is reported with a connector error of a known
//     category and a message;
//   - secrets: a distinctive value in each secret field never shows in an error, a
//     check message or a request sample, whether the backend answers or fails;
//   - batch limits (destinations): no request carries more records, or more bytes, than
//     the action declares, and a batch over the limit is sent in smaller requests or
//     refused whole as a configuration error before anything is sent;
//   - key order (sources): the dialect implements connectors.KeyOrderer, and keys read
//     ordered by it come in Go's string order, the order the engine merges them in,
//     the same on every read.
//
// A new connector package passes this kit, and main registers it with one line: that
// is all a kind needs. The kit imports connectors and the standard library only.
package connectortest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sluice/connectors"
)

// Invalid is a config a connector must refuse at Open, and the field its error names
// ("" when no one field is at fault). The kit derives the obvious ones from the spec
// (a required field left empty, an option not offered, a word in a number or a boolean
// field); a test adds the rules only its connector knows (a port out of range, a URL
// without a host).
type Invalid struct {
	Name   string
	Config connectors.Config
	Field  string
}

// knownCategory reports whether c is one of the six a connector may report; the
// engine's "internal" is Sluice's own, never a connector's.
func knownCategory(c connectors.Category) bool {
	switch c {
	case connectors.CategoryConnection, connectors.CategoryCredentials, connectors.CategoryRateLimit,
		connectors.CategoryConfiguration, connectors.CategoryTimeout, connectors.CategoryNotFound:
		return true
	}
	return false
}

var (
	kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// credentialName is a field name that says it holds a credential.
	credentialName = regexp.MustCompile(`(^|_)(password|passwd|secret|token|api_?key|private_?key|credentials?)($|_)`)
)

// fieldProblems lists what is wrong with a connector's form fields.
func fieldProblems(fields []connectors.FieldSpec) []string {
	var out []string
	seen := map[string]bool{}
	for i, f := range fields {
		at := fmt.Sprintf("field %d (%s)", i, f.Name)
		if !namePattern.MatchString(f.Name) {
			out = append(out, at+": the name must be lower-case letters, digits and _ (it is the config key and the form's input name)")
		}
		if seen[f.Name] {
			out = append(out, at+": the name is used twice")
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Label) == "" || f.Label != strings.TrimSpace(f.Label) {
			out = append(out, at+": the label must be words, without surrounding spaces")
		}
		switch f.Type {
		case connectors.FieldString, connectors.FieldInt, connectors.FieldPassword, connectors.FieldSelect, connectors.FieldBool, connectors.FieldText:
		default:
			out = append(out, fmt.Sprintf("%s: unknown type %q", at, f.Type))
		}
		if f.Type == connectors.FieldPassword && !f.Secret {
			out = append(out, at+": a password field must be marked Secret, or it is stored in plain text and shown back")
		}
		if f.Secret && f.Type != connectors.FieldPassword && f.Type != connectors.FieldText {
			out = append(out, fmt.Sprintf("%s: a secret field is typed password (or text, for several lines), not %s, so the form never echoes it", at, f.Type))
		}
		if credentialName.MatchString(f.Name) && !f.Secret {
			out = append(out, at+": the name says it holds a credential, yet it is not marked Secret")
		}
		if f.Secret && f.Default != "" {
			out = append(out, at+": a secret field has no default (a default secret is one every platform shares)")
		}
		if f.Type == connectors.FieldSelect {
			if len(f.Options) == 0 {
				out = append(out, at+": a select field offers at least one option")
			}
			opts := map[string]bool{}
			for _, o := range f.Options {
				if o == "" || opts[o] {
					out = append(out, fmt.Sprintf("%s: option %q is empty or offered twice", at, o))
				}
				opts[o] = true
			}
			if f.Default != "" && !opts[f.Default] {
				out = append(out, fmt.Sprintf("%s: the default %q is not one of the options", at, f.Default))
			}
		} else if len(f.Options) > 0 {
			out = append(out, at+": only a select field has options")
		}
		if f.Type == connectors.FieldInt && f.Default != "" {
			if _, err := strconv.Atoi(f.Default); err != nil {
				out = append(out, fmt.Sprintf("%s: the default %q is not a whole number", at, f.Default))
			}
		}
		if f.Type == connectors.FieldBool && f.Default != "" && f.Default != "true" && f.Default != "false" {
			out = append(out, fmt.Sprintf("%s: the default %q is not true or false", at, f.Default))
		}
	}
	return out
}

// sourceSpecProblems lists what is wrong with a source kind's spec.
func sourceSpecProblems(spec connectors.SourceSpec) []string {
	out := kindProblems(spec.Kind, spec.Label)
	return append(out, fieldProblems(spec.Fields)...)
}

func kindProblems(kind, label string) []string {
	var out []string
	if !kindPattern.MatchString(kind) {
		out = append(out, fmt.Sprintf("kind %q: a kind is lower-case letters, digits and _ (it is stored with every saved source and platform)", kind))
	}
	if strings.TrimSpace(label) == "" {
		out = append(out, "the label is empty: it is the name users pick the kind by")
	}
	return out
}

// destinationSpecProblems lists what is wrong with a destination kind's spec.
func destinationSpecProblems(spec connectors.DestinationSpec) []string {
	out := kindProblems(spec.Kind, spec.Label)
	switch spec.Auth {
	case connectors.AuthNone, connectors.AuthAPIKey, connectors.AuthOAuth:
	default:
		out = append(out, fmt.Sprintf("unknown auth kind %q", spec.Auth))
	}
	out = append(out, fieldProblems(spec.Config)...)
	out = append(out, oauthProblems(spec)...)
	if spec.RequestsPerSecond < 0 || spec.Burst < 0 {
		out = append(out, fmt.Sprintf("the rate limit %v/s, burst %d, is negative", spec.RequestsPerSecond, spec.Burst))
	}
	if spec.RequestsPerSecond > 0 && spec.Burst < 1 {
		out = append(out, "a documented rate limit has a burst of at least 1")
	}
	if len(spec.Actions) == 0 {
		out = append(out, "a destination offers at least one action")
	}
	names := map[string]bool{}
	for _, a := range spec.Actions {
		out = append(out, actionProblems(a)...)
		if names[a.Name] {
			out = append(out, fmt.Sprintf("action %s is declared twice", a.Name))
		}
		names[a.Name] = true
	}
	return out
}

// oauthProblems lists what is wrong with how an OAuth kind says it is authorized.
func oauthProblems(spec connectors.DestinationSpec) []string {
	o := spec.OAuth
	switch {
	case spec.Auth != connectors.AuthOAuth && o != nil:
		return []string{fmt.Sprintf("auth is %q but the spec describes OAuth", spec.Auth)}
	case spec.Auth != connectors.AuthOAuth:
		return nil
	case o == nil:
		return []string{"an OAuth kind says how it is authorized (OAuth)"}
	}
	var out []string
	if !namePattern.MatchString(o.Provider) {
		out = append(out, fmt.Sprintf("OAuth provider %q: the name must be lower-case letters, digits and _", o.Provider))
	}
	for _, u := range []struct{ name, url string }{{"AuthURL", o.AuthURL}, {"TokenURL", o.TokenURL}} {
		if !strings.HasPrefix(u.url, "https://") {
			out = append(out, fmt.Sprintf("OAuth %s %q is not an https URL", u.name, u.url))
		}
	}
	for _, f := range spec.Config {
		if f.Name == "access_token" || f.Name == "refresh_token" {
			out = append(out, "config field "+f.Name+": an OAuth kind's tokens come from consent, never from its form")
		}
	}
	return out
}

// actionProblems lists what is wrong with one action, as the spec declares it or as an
// opened destination configures it.
func actionProblems(a connectors.Action) []string {
	var out []string
	at := "action " + a.Name
	if !namePattern.MatchString(a.Name) {
		out = append(out, fmt.Sprintf("action %q: the name must be lower-case letters, digits and _", a.Name))
	}
	if strings.TrimSpace(a.Label) == "" {
		out = append(out, at+": the label is empty")
	}
	out = append(out, fieldProblems(a.Settings)...)
	if a.BatchSize < 1 {
		out = append(out, fmt.Sprintf("%s: the batch size is %d; declare the most records one Write takes", at, a.BatchSize))
	}
	if a.MaxBatchBytes < 0 {
		out = append(out, fmt.Sprintf("%s: the byte limit %d is negative", at, a.MaxBatchBytes))
	}
	if len(a.Fields) == 0 && !a.Custom {
		out = append(out, at+": it knows no field and takes no custom ones, so nothing can be mapped")
	}
	seen := map[string]bool{}
	identifiers := 0
	for _, f := range a.Fields {
		if f.Name == "" || seen[f.Name] {
			out = append(out, fmt.Sprintf("%s: field %q is unnamed or declared twice", at, f.Name))
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Label) == "" {
			out = append(out, fmt.Sprintf("%s: field %s has no label", at, f.Name))
		}
		switch f.Kind {
		case connectors.KindEmail, connectors.KindPhone, connectors.KindString, connectors.KindNumber, connectors.KindBoolean, connectors.KindDatetime:
		default:
			out = append(out, fmt.Sprintf("%s: field %s has the unknown kind %q", at, f.Name, f.Kind))
		}
		if f.Identifier {
			identifiers++
		}
	}
	if len(a.Fields) > 0 && identifiers == 0 {
		out = append(out, at+": none of its fields is an identifier, so nothing says which record at the destination a row is")
	}
	return out
}

// badConfigs derives from a spec the configs Open must refuse, starting from one that
// works: each required field without a default left empty, a select field given an
// option it does not offer, a number or boolean field given a word.
func badConfigs(fields []connectors.FieldSpec, good connectors.Config) []Invalid {
	var out []Invalid
	for _, f := range fields {
		var bad string
		switch {
		case f.Required && f.Default == "":
			bad = ""
		case f.Type == connectors.FieldSelect:
			bad = "kit-not-an-option"
		case f.Type == connectors.FieldInt:
			bad = "twelve"
		case f.Type == connectors.FieldBool:
			bad = "kit-not-a-bool"
		default:
			continue
		}
		cfg := with(good, f.Name, bad)
		out = append(out, Invalid{Name: fmt.Sprintf("%s=%q", f.Name, bad), Config: cfg, Field: f.Name})
	}
	return out
}

// with is a copy of cfg with one field set.
func with(cfg connectors.Config, name, value string) connectors.Config {
	out := make(connectors.Config, len(cfg)+1)
	for k, v := range cfg {
		out[k] = v
	}
	out[name] = value
	return out
}

// errorProblems lists what makes err not a categorised connector error: it must be (or
// wrap) a *connectors.Error with one of the six categories and a message in words.
func errorProblems(err error) []string {
	if err == nil {
		return []string{"no error"}
	}
	ce, ok := connectors.AsError(err)
	if !ok {
		return []string{fmt.Sprintf("%T %q is not a *connectors.Error: it has no category, so no one knows what to fix", err, err)}
	}
	var out []string
	if !knownCategory(ce.Category) {
		out = append(out, fmt.Sprintf("category %q is not one of the six", ce.Category))
	}
	if strings.TrimSpace(ce.Message) == "" {
		out = append(out, fmt.Sprintf("the %s error has no message for users (detail %q)", ce.Category, ce.Detail))
	}
	return out
}

// token is a distinctive secret value: if it shows anywhere, a secret leaked.
func token() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "kitsecret" + hex.EncodeToString(b)
}

// leaks lists where secret shows in err: its text, a connector error's message, detail
// and field, the error it wraps (which run logs record), and its request sample.
func leaks(err error, secret string) []string {
	if err == nil {
		return nil
	}
	var out []string
	if strings.Contains(err.Error(), secret) {
		out = append(out, "the error's text")
	}
	if ce, ok := connectors.AsError(err); ok {
		for _, p := range []struct{ where, s string }{{"Message", ce.Message}, {"Detail", ce.Detail}, {"Field", ce.Field}} {
			if strings.Contains(p.s, secret) {
				out = append(out, "the error's "+p.where)
			}
		}
		if ce.Err != nil && strings.Contains(ce.Err.Error(), secret) {
			out = append(out, "the error it wraps")
		}
		out = append(out, exchangeLeaks(ce.Exchange, secret)...)
	}
	return out
}

// exchangeLeaks lists where secret shows in a request sample.
func exchangeLeaks(ex *connectors.Exchange, secret string) []string {
	if ex == nil {
		return nil
	}
	var out []string
	for _, p := range []struct{ where, s string }{{"URL", ex.URL}, {"request body", ex.RequestBody}, {"response body", ex.ResponseBody}} {
		if strings.Contains(p.s, secret) {
			out = append(out, "the sample's "+p.where)
		}
	}
	for name, v := range ex.RequestHeaders {
		if strings.Contains(name, secret) || strings.Contains(v, secret) {
			out = append(out, "the sample's request header "+name)
		}
	}
	return out
}

// secretFields names the fields the spec marks secret.
func secretFields(fields []connectors.FieldSpec) []string {
	var out []string
	for _, f := range fields {
		if f.Secret {
			out = append(out, f.Name)
		}
	}
	return out
}
