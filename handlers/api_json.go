package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sluice/connectors"
	"sluice/models"
	"sluice/segments"
)

// This file holds what every resource of the JSON API shares: times, bodies, settings
// and pages. Choices where API.md is silent:
//
//   - Times are RFC 3339 in UTC; a time that has not happened yet (validated_at) is null.
//   - Lists are ordered by name. next_cursor is opaque (base64url of the last item's id
//     and name) and "" on the last page; a cursor whose item was deleted meanwhile goes
//     on from the next name.

// apiSecretMask stands for a secret setting that is set.
const apiSecretMask = "********"

// maskSecrets adds to public, the settings that may be shown, every secret of full that
// is set, as apiSecretMask.
func maskSecrets(public map[string]string, full map[string]string) {
	for k, v := range full {
		if _, shown := public[k]; !shown && v != "" {
			public[k] = apiSecretMask
		}
	}
}

// Page sizes of API.md: ?limit= defaults to 50 and is capped at 500.
const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiTime is a time as the API writes it: UTC.
// apiTimestamp is a time in an answer, in UTC, as time.Time writes it in JSON (RFC 3339
// with the fractional seconds it has). It is a string so that encoding/json writes it as
// one: a time.Time field costs a call of its MarshalJSON and a check of what it wrote,
// which made up most of the encoding of a list (docs/benchmarks.md, "Pages and API
// under load").
type apiTimestamp string

func apiTime(t time.Time) apiTimestamp { return apiTimestamp(t.UTC().Format(time.RFC3339Nano)) }

func apiTimeOrNull(t *time.Time) *apiTimestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	s := apiTime(*t)
	return &s
}

// apiDecode reads the request body, one JSON object, into v. Broken JSON is 400; a
// value of the wrong type, or a condition tree that is not one, is 422 naming the field.
func apiDecode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return echo.NewHTTPError(http.StatusBadRequest, "Send one JSON object as the body.")
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var cond *segments.FieldError
	switch {
	case errors.Is(err, io.EOF):
		return echo.NewHTTPError(http.StatusBadRequest, "Send a JSON object as the body.")
	case errors.As(err, &cond):
		return &models.FieldError{Field: cond.Path, Message: cond.Message}
	case errors.As(err, &typ) && typ.Field != "":
		return &models.FieldError{Field: typ.Field, Message: fmt.Sprintf("%s must be %s, not a JSON %s.", typ.Field, apiJSONKind(typ.Type.Kind().String()), typ.Value)}
	case errors.As(err, &typ):
		return echo.NewHTTPError(http.StatusBadRequest, "The body must be a JSON object.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return echo.NewHTTPError(http.StatusBadRequest, "The body is not valid JSON.")
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read as JSON.")
}

// apiJSONKind names a Go kind the way a JSON client thinks of it.
func apiJSONKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// apiPage cuts one page out of a list the store returned whole, in its order (by name).
func apiPage[T any](c echo.Context, items []T, key func(T) (id, name string)) ([]T, string, error) {
	limit := apiDefaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, "", &models.FieldError{Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", apiMaxLimit)}
		}
		limit = min(n, apiMaxLimit)
	}
	start := 0
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		lastID, lastName, ok := strings.Cut(string(raw), "\n")
		if err != nil || !ok || lastID == "" {
			return nil, "", echo.NewHTTPError(http.StatusBadRequest, "This cursor is not valid. Start again from the first page, without one.")
		}
		start = len(items)
		if i := slices.IndexFunc(items, func(it T) bool { id, _ := key(it); return id == lastID }); i >= 0 {
			start = i + 1
		} else if i := slices.IndexFunc(items, func(it T) bool { _, name := key(it); return name > lastName }); i >= 0 {
			start = i // the last item is gone: go on from the next name
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		id, name := key(items[end-1])
		next = base64.RawURLEncoding.EncodeToString([]byte(id + "\n" + name))
	}
	return items[start:end], next, nil
}

// apiMapList turns a page of store rows into their JSON.
func apiMapList[T, J any](rows []T, fn func(*T) (J, error)) ([]J, error) {
	out := make([]J, 0, len(rows))
	for i := range rows {
		j, err := fn(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// apiConfig reads a config object of JSON strings, numbers and booleans as the
// connector's settings. A masked secret is left out, so the stored one is kept.
func apiConfig(raw map[string]json.RawMessage, kind string, specFields []connectors.FieldSpec) (connectors.Config, error) {
	fields := map[string]connectors.FieldSpec{}
	names := make([]string, len(specFields))
	for i, f := range specFields {
		fields[f.Name], names[i] = f, f.Name
	}
	cfg := connectors.Config{}
	for k, v := range raw {
		f, ok := fields[k]
		if !ok {
			return nil, &models.FieldError{Field: "config." + k, Message: fmt.Sprintf("A %s has no setting %q; its settings are %s.", kind, k, strings.Join(names, ", "))}
		}
		var val any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&val); err != nil {
			return nil, &models.FieldError{Field: "config." + k, Message: "This value is not valid JSON."}
		}
		var s string
		switch x := val.(type) {
		case nil:
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return nil, &models.FieldError{Field: "config." + k, Message: f.Label + " must be a string, a number or true/false."}
		}
		if f.Secret && s == apiSecretMask {
			continue
		}
		cfg[k] = s
	}
	return cfg, nil
}

// apiDecodeOptional is apiDecode for bodies that may be left out: an empty body leaves v as it is.
func apiDecodeOptional(c echo.Context, v any) error {
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read.")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(raw))
	return apiDecode(c, v)
}

// apiLimit reads ?limit= (default 50, at most 500).
func apiLimit(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return apiDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &models.FieldError{Field: "limit", Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", apiMaxLimit)}
	}
	return min(n, apiMaxLimit), nil
}

func apiBadCursor() error {
	return echo.NewHTTPError(http.StatusBadRequest, "This cursor is not valid. Start again from the first page, without one.")
}

// apiSortKey orders rows by time then id, as text: fixed-width UTC time, then the id.
func apiSortKey(t time.Time, id string) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z") + "|" + id
}

// apiSeekPage cuts one page out of items in their order. The cursor is the sort key of
// the page's last item; the next page starts at the first item whose key comes after
// it (after(key, cursor)), so a page goes on right even when that item is gone.
func apiSeekPage[T any](c echo.Context, items []T, key func(T) string, after func(key, cursor string) bool) ([]T, string, error) {
	limit, err := apiLimit(c)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || !strings.Contains(string(raw), "|") {
			return nil, "", apiBadCursor()
		}
		start = len(items)
		if i := slices.IndexFunc(items, func(it T) bool { return after(key(it), string(raw)) }); i >= 0 {
			start = i
		}
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	}
	return items[start:end], next, nil
}
