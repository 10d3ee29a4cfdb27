package handlers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gorilla/securecookie"
)

// sessionSerializer writes the session cookie's values as a JSON object instead of gob:
// gob describes the types again in every cookie and took as long to read back on each
// request as the page's database query (docs/benchmarks.md, "Pages and API under load").
// The values are what the handlers keep there: strings (the session id, the CSRF token)
// and the flash messages, a list of strings. A cookie written by gob before is still
// read.
type sessionSerializer struct{}

func (sessionSerializer) Serialize(src any) ([]byte, error) {
	values, ok := src.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("session cookie: cannot write a %T", src)
	}
	out := make(map[string]any, len(values))
	for k, v := range values {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("session cookie: key %v is not a string", k)
		}
		switch v := v.(type) {
		case string:
			out[key] = v
		case []any: // flashes
			list := make([]string, len(v))
			for i, s := range v {
				if list[i], ok = s.(string); !ok {
					return nil, fmt.Errorf("session cookie: %q holds a %T", key, s)
				}
			}
			out[key] = list
		default:
			return nil, fmt.Errorf("session cookie: %q holds a %T", key, v)
		}
	}
	return json.Marshal(out)
}

func (sessionSerializer) Deserialize(src []byte, dst any) error {
	values, ok := dst.(*map[any]any)
	if !ok {
		return fmt.Errorf("session cookie: cannot read into a %T", dst)
	}
	if len(src) == 0 || src[0] != '{' {
		return securecookie.GobEncoder{}.Deserialize(src, dst) // written before
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(src, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		if len(v) > 0 && v[0] == '[' {
			var list []string
			if err := json.Unmarshal(v, &list); err != nil {
				return err
			}
			flashes := make([]any, len(list))
			for i, s := range list {
				flashes[i] = s
			}
			(*values)[k] = flashes
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return errors.Join(fmt.Errorf("session cookie: %q is neither a string nor a list", k), err)
		}
		(*values)[k] = s
	}
	return nil
}
