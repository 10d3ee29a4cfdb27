package braze

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"sluice/connectors"
)

// attribute is one custom attribute as GET /custom_attributes lists it.
type attribute struct {
	Name        string `json:"name"`
	DataType    string `json:"data_type"`
	Status      string `json:"status"`
	Description string `json:"description"`
}

// maxPages bounds the custom attributes read: 50 a page, 10,000 attributes.
const maxPages = 200

// attributes lists the workspace's custom attributes, following the Link header's
// next page, never to another host (the key goes with every page).
func (d *destination) attributes(ctx context.Context) ([]attribute, error) {
	next := d.base.JoinPath(pathAttributes).String()
	var out []attribute
	for page := 0; next != "" && page < maxPages; page++ {
		resp, err := d.get(ctx, next, PermCustomAttributesGet)
		if err != nil {
			return nil, err
		}
		var body struct {
			Attributes []attribute `json:"attributes"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			return nil, &connectors.Error{Category: connectors.CategoryConnection, Retryable: true,
				Message:  "Braze answered the custom attributes export with something that is not its JSON.",
				Detail:   err.Error(),
				Exchange: resp.Exchange, Err: err}
		}
		out = append(out, body.Attributes...)
		next = d.nextPage(resp.Header)
	}
	return out, nil
}

var linkNext = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// nextPage is the Link header's next URL when it is on the platform's own endpoint.
func (d *destination) nextPage(h http.Header) string {
	for _, v := range h.Values("Link") {
		m := linkNext.FindStringSubmatch(v)
		if m == nil {
			continue
		}
		u, err := url.Parse(m[1])
		if err != nil {
			return ""
		}
		u = d.base.ResolveReference(u)
		if u.Scheme != d.base.Scheme || u.Host != d.base.Host || u.Path != pathAttributes {
			return ""
		}
		return u.String()
	}
	return ""
}

// checkAttribute makes sure export_list's attribute can hold the audience: not
// blocklisted (Braze would ignore every value, and a run would succeed while the
// audience stays empty) and an array if it exists. An attribute Braze does not list
// yet is fine: the first "add" creates it. A key without custom_attributes.get cannot
// look, and the write goes on. The answer is kept for the platform's life (a run).
func (d *destination) checkAttribute(ctx context.Context, name string) error {
	d.mu.Lock()
	err, done := d.checked[name]
	d.mu.Unlock()
	if done {
		return err
	}
	attrs, err := d.attributes(ctx)
	if err != nil {
		if ce, ok := connectors.AsError(err); ok && ce.Exchange != nil && ce.Exchange.StatusCode == http.StatusForbidden {
			err = nil
		} else {
			return err // not kept: the next batch looks again
		}
	}
	for _, a := range attrs {
		if a.Name != name {
			continue
		}
		switch {
		case strings.EqualFold(a.Status, "Blocklisted"):
			err = &connectors.Error{Category: connectors.CategoryNotFound, Field: SettingAttribute,
				Message: "The Braze custom attribute “" + name + "” is blocklisted, so Braze ignores every value sent to it and the audience would stay empty: " +
					"unblock it in Braze (Data Settings > Custom Attributes) or choose another attribute in the activation's settings."}
		case a.DataType != "" && !strings.EqualFold(a.DataType, "Array"):
			err = configError(SettingAttribute, "The Braze custom attribute “"+name+"” holds a "+a.DataType+", not an array, so it cannot keep an audience: "+
				"choose an array attribute, or a new name, in the activation's settings.")
		}
		break
	}
	d.mu.Lock()
	d.checked[name] = err
	d.mu.Unlock()
	return err
}

// Options lists the choices of a setting: the workspace's active array attributes for
// export_list's attribute. The other settings have no list at Braze.
func (d *destination) Options(ctx context.Context, action, setting string) ([]connectors.Option, bool, error) {
	if action != ActionExportList || setting != SettingAttribute {
		return nil, false, nil
	}
	attrs, err := d.attributes(ctx)
	if err != nil {
		return nil, true, err
	}
	out := []connectors.Option{}
	for _, a := range attrs {
		if !strings.EqualFold(a.DataType, "Array") || !strings.EqualFold(a.Status, "Active") {
			continue
		}
		label := a.Name
		if desc := strings.TrimSpace(a.Description); desc != "" {
			label += " — " + desc
		}
		out = append(out, connectors.Option{Value: a.Name, Label: label})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out, true, nil
}
