package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// inputError is malformed input that one field is at fault for: answered 400, with the
// field named (API.md's "field").
type inputError struct {
	Field   string
	Message string
}

func (e *inputError) Error() string { return "handlers: bad input in " + e.Field + ": " + e.Message }

// multipartMemory is what a multipart form may hold in memory while parsed, as echo's
// own FormValue uses; the body limit keeps real forms far below it.
const multipartMemory = 32 << 20

// refuseNUL answers 400 to a request with a NUL character in any input: a path
// parameter, a query or form value or name (url-encoded or multipart, file names
// included), or a string or key of a JSON body, written raw or as \u0000. PostgreSQL
// text cannot hold NUL, so such input would otherwise fail deep in a query; no field of
// Sluice has a use for it, on either database. Other control characters are left to
// the rules of each field (names refuse them all).
//
// It runs after routing (as group middleware), so path parameters are known, and after
// the body limit: a body over the limit still gets 413. The body is read once and put
// back, so the handler reads it as sent.
func refuseNUL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkNUL(c); err != nil {
			return err
		}
		return next(c)
	}
}

func checkNUL(c echo.Context) error {
	for i, name := range c.ParamNames() {
		if i < len(c.ParamValues()) && hasNUL(c.ParamValues()[i]) {
			return nulError(name)
		}
	}
	if err := checkValues(c.QueryParams()); err != nil {
		return err
	}
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) { // the body limit's 413
			return he
		}
		return echo.NewHTTPError(http.StatusBadRequest, "The request body could not be read. Try again.")
	}
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(raw))
	if len(raw) == 0 {
		return nil
	}
	mediaType, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	switch mediaType {
	case echo.MIMEApplicationForm, echo.MIMEMultipartForm:
		err := checkForm(req, mediaType)
		// Parsing read the body: put it back for any handler that reads it again.
		req.Body = io.NopCloser(bytes.NewReader(raw))
		return err
	}
	// Anything else is JSON to the API (it decodes whatever the content type).
	if !bytes.Contains(raw, []byte{0}) && !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil
	}
	if field, ok := jsonNULField(raw); ok {
		return nulError(field)
	}
	return nil
}

// checkForm parses the buffered form and checks every name and value. A form that
// does not parse is left to the handler, which sees the same parse.
func checkForm(req *http.Request, mediaType string) error {
	if mediaType == echo.MIMEMultipartForm {
		if err := req.ParseMultipartForm(multipartMemory); err != nil || req.MultipartForm == nil {
			return nil
		}
		if err := checkValues(req.MultipartForm.Value); err != nil {
			return err
		}
		for name, files := range req.MultipartForm.File {
			if hasNUL(name) {
				return nulError(name)
			}
			for _, f := range files {
				if hasNUL(f.Filename) {
					return nulError(name)
				}
			}
		}
		return nil
	}
	_ = req.ParseForm() // on a bad escape, the pairs before it are kept: check those
	return checkValues(req.PostForm)
}

// checkValues finds a NUL in the names or values of a query or form.
func checkValues(vals map[string][]string) error {
	for name, list := range vals {
		if hasNUL(name) {
			return nulError(name)
		}
		for _, v := range list {
			if hasNUL(v) {
				return nulError(name)
			}
		}
	}
	return nil
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// nulError names the field in plain words; a NUL inside the name itself is shown as
// \u0000, and a long name is cut.
func nulError(field string) error {
	if field == "" {
		field = "body"
	}
	field = strings.ReplaceAll(strings.ToValidUTF8(field, "\uFFFD"), "\x00", `\u0000`)
	if r := []rune(field); len(r) > 100 {
		field = string(r[:100]) + "…"
	}
	return &inputError{Field: field, Message: "The field \"" + field + "\" contains a NUL character, which Sluice does not accept. Remove it and try again."}
}

// jsonNULField walks a JSON body and returns the path of the first key or string
// holding NUL, in API.md's notation ("config.url", "mappings[1].from"). A raw NUL is not
// valid JSON: the walk stops there and names the field it was reading ("" at the top).
func jsonNULField(raw []byte) (string, bool) {
	type level struct {
		obj   bool
		atKey bool // an object waiting for its next key
		key   string
		idx   int
	}
	var stack []level
	path := func() string {
		var b strings.Builder
		for _, l := range stack {
			switch {
			case !l.obj:
				b.WriteString("[" + strconv.Itoa(l.idx) + "]")
			case !l.atKey:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(l.key)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].atKey = true
			} else {
				stack[n-1].idx++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return "", false
		}
		if err != nil {
			if bytes.IndexByte(raw, 0) >= 0 {
				return path(), true
			}
			return "", false
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, level{obj: true, atKey: true})
			case '[':
				stack = append(stack, level{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].atKey {
				stack[n-1].key, stack[n-1].atKey = v, false
				if hasNUL(v) {
					return path(), true
				}
				continue
			}
			if hasNUL(v) {
				return path(), true
			}
			valueDone()
		default:
			valueDone()
		}
	}
}
