package connectors

import (
	"net/url"
	"regexp"
	"strings"
)

// The user info and the query string of any URL a user gives are secrets (DESIGN.md,
// "Security"): an endpoint's basic-auth password or its ?token= lives there as often as
// in a header. This file is the one rule for them. A URL with such parts is stored twice:
// whole and sealed with the other secrets, and masked (MaskURL) in the plain settings
// that pages, the API and the audit log show; connectors receive it whole, in memory
// only. Request samples, error details and run logs mask every URL they hold the same
// way.

// URLMask stands for a secret part of a URL: its user name, its password, each query
// value, its fragment.
const URLMask = "***"

// URLHasSecrets reports whether raw is a URL (scheme://host…) whose user info, query
// string or fragment is set: the parts MaskURL hides. A value that only looks like such
// a URL, but does not parse, counts too: nothing is lost by sealing it.
func URLHasSecrets(raw string) bool {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return strings.Contains(raw, "://") && strings.ContainsAny(raw, "@?#")
	}
	if u.User != nil {
		return true
	}
	return u.Scheme != "" && u.Host != "" && (u.RawQuery != "" || u.Fragment != "")
}

// MaskURL returns raw with its secret parts replaced by URLMask: the user info
// (https://***:***@host), every query value (?token=***&x=***; a query part without
// "=" is masked whole) and the fragment (#***). Scheme, host, port and path stay
// readable, so a user can still tell which endpoint it is. A URL without such parts is
// returned as given (trimmed); masking a masked URL changes nothing. A URL that does
// not parse loses everything up to its last "@" after the scheme, and its query.
func MaskURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return maskUnparsed(raw)
	}
	if u.User == nil && u.RawQuery == "" && u.Fragment == "" {
		return raw
	}
	base := *u
	base.User, base.RawQuery, base.ForceQuery, base.Fragment, base.RawFragment = nil, "", false, "", ""
	s := base.String()
	if u.User != nil {
		info := URLMask + "@"
		if _, ok := u.User.Password(); ok {
			info = URLMask + ":" + URLMask + "@"
		}
		if i := strings.Index(s, "//"); i >= 0 {
			s = s[:i+2] + info + s[i+2:]
		}
	}
	if u.RawQuery != "" {
		s += "?" + maskQuery(u.RawQuery)
	}
	if u.Fragment != "" {
		s += "#" + URLMask
	}
	return s
}

// maskQuery keeps the names of a query's parameters and masks their values.
func maskQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		switch {
		case p == "":
		case !ok:
			parts[i] = URLMask
		case value == "":
		default:
			parts[i] = name + "=" + URLMask
		}
	}
	return strings.Join(parts, "&")
}

// maskUnparsed masks a URL url.Parse refuses: everything between the scheme and the
// last "@" (a password may hold any character), then the query or fragment.
func maskUnparsed(raw string) string {
	s := raw
	if j := strings.Index(s, "://"); j >= 0 {
		if at := strings.LastIndex(s, "@"); at > j {
			s = s[:j+3] + URLMask + s[at:]
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i+1] + URLMask
	}
	return s
}

// URLIsMasked reports whether raw is a URL that shows URLMask where a secret part
// would be: what a user sends back when they leave a masked URL as shown, or edit
// around its masks. Only the exact masked form of a stored URL keeps the stored URL;
// anything else masked is refused, never sent with "***" as a password.
func URLIsMasked(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	if u.User != nil {
		if u.User.Username() == URLMask {
			return true
		}
		if p, _ := u.User.Password(); p == URLMask {
			return true
		}
	}
	if u.Fragment == URLMask {
		return true
	}
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p == URLMask || strings.HasSuffix(p, "="+URLMask) {
			return true
		}
	}
	return false
}

// urlInText finds URLs written in free text: a scheme, "://", and everything up to a
// space, a quote or an angle bracket (Go's errors quote the URL they name).
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// MaskURLs masks every URL in text (an error's detail, a log line), as MaskURL does.
func MaskURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, MaskURL)
}
