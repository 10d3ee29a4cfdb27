package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"sluice/connectors"
)

// sealURLSecrets brings records written before a URL's user info and query string
// counted as secrets (connectors.URLHasSecrets) under that rule. It runs after the
// migrations at every start and does nothing the second time:
//
//   - a platform's or source's plain settings holding such a URL in clear get it sealed
//     with the other secrets and masked in place, as splitConfig does today;
//   - before that, when any had to move, the request samples, run logs and run errors
//     kept from the runs that used those URLs are masked (connectors.MaskURLs);
//   - the audit entries of platforms and sources that name a URL are masked too.
//
// Each row is rewritten only if it still holds what was read, so an instance starting
// beside a running one never overwrites a change made meanwhile. With nothing to do it
// reads the settings and audit entries that name a URL, a few rows.
func (s *Store) sealURLSecrets(ctx context.Context) error {
	if s.secrets == nil {
		return nil // nothing can be sealed without a key; every secret read fails anyway
	}
	var pending []clearURLRow
	for _, t := range []struct{ table, owner string }{{"platforms", "platform:"}, {"sources", "source:"}} {
		rows, err := s.clearURLRows(ctx, t.table, t.owner)
		if err != nil {
			return err
		}
		pending = append(pending, rows...)
	}
	if len(pending) > 0 {
		for _, c := range []struct {
			table, column string
			json          bool
		}{{"run_samples", "exchange_json", true}, {"run_logs", "message", false}, {"runs", "error_detail", false}} {
			if err := s.maskURLsIn(ctx, c.table, "", c.column, c.json); err != nil {
				return err
			}
		}
	}
	for _, r := range pending {
		if err := s.moveURLSecrets(ctx, r); err != nil {
			return err
		}
	}
	for _, col := range []string{"before_json", "after_json"} {
		if err := s.maskURLsIn(ctx, "audit_entries", "resource_type IN ('platform', 'source')", col, true); err != nil {
			return err
		}
	}
	return nil
}

// clearURLRow is a platform or source whose plain settings hold URLs with their
// secrets in clear.
type clearURLRow struct {
	table, owner  string
	ID            string
	ConfigJSON    string
	SecretsSealed string
	keys          []string
}

func (s *Store) clearURLRows(ctx context.Context, table, ownerPrefix string) ([]clearURLRow, error) {
	var rows []clearURLRow
	err := s.db.WithContext(ctx).Table(table).Select("id, config_json, secrets_sealed").
		Where("config_json LIKE ?", "%://%").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: read %s settings: %w", table, err)
	}
	out := rows[:0]
	for _, r := range rows {
		public := map[string]string{}
		if json.Unmarshal([]byte(r.ConfigJSON), &public) != nil {
			continue
		}
		for k, v := range public {
			if connectors.URLHasSecrets(v) && connectors.MaskURL(v) != v {
				r.keys = append(r.keys, k)
			}
		}
		if len(r.keys) > 0 {
			r.table, r.owner = table, ownerPrefix+r.ID
			out = append(out, r)
		}
	}
	return out, nil
}

// moveURLSecrets seals a row's URLs and masks them in its plain settings. A URL already
// sealed under the same name is what the connector used (sealed settings win when the
// two are merged), so it stays.
func (s *Store) moveURLSecrets(ctx context.Context, r clearURLRow) error {
	public := map[string]string{}
	if err := json.Unmarshal([]byte(r.ConfigJSON), &public); err != nil {
		return err
	}
	secret, err := s.open(r.owner, r.SecretsSealed)
	if err != nil {
		return err
	}
	for _, k := range r.keys {
		if secret[k] == "" {
			secret[k] = public[k]
		}
		public[k] = connectors.MaskURL(public[k])
	}
	raw, err := json.Marshal(public)
	if err != nil {
		return err
	}
	sealed, err := s.seal(r.owner, secret)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Table(r.table).
		Where("id = ? AND config_json = ? AND secrets_sealed = ?", r.ID, r.ConfigJSON, r.SecretsSealed).
		Updates(map[string]any{"config_json": string(raw), "secrets_sealed": sealed}).Error
	if err != nil {
		return fmt.Errorf("models: seal the URL secrets of %s: %w", r.owner, err)
	}
	return nil
}

// maskURLsIn masks the URLs in one text column of the rows of table that name one
// (where narrows them further), JSON strings one by one when the column holds JSON.
func (s *Store) maskURLsIn(ctx context.Context, table, where, column string, isJSON bool) error {
	type row struct {
		ID   string
		Text *string
	}
	var rows []row
	q := s.db.WithContext(ctx).Table(table).Select("id, "+column+" AS text").Where(column+" LIKE ?", "%://%")
	if where != "" {
		q = q.Where(where)
	}
	if err := q.Scan(&rows).Error; err != nil {
		return fmt.Errorf("models: read %s.%s: %w", table, column, err)
	}
	for _, r := range rows {
		if r.Text == nil {
			continue
		}
		masked := connectors.MaskURLs(*r.Text)
		if isJSON {
			masked = maskURLsInJSON(*r.Text)
		}
		if masked == *r.Text {
			continue
		}
		err := s.db.WithContext(ctx).Table(table).Where("id = ? AND "+column+" = ?", r.ID, *r.Text).
			Update(column, masked).Error
		if err != nil {
			return fmt.Errorf("models: mask URLs in %s.%s: %w", table, column, err)
		}
	}
	return nil
}

// maskURLsInJSON masks the URLs in every string of a JSON document (an audit snapshot,
// a kept exchange); text that is not JSON is masked as text.
func maskURLsInJSON(raw string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return connectors.MaskURLs(raw)
	}
	v, changed := maskURLsInValue(v)
	if !changed {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return connectors.MaskURLs(raw)
	}
	return string(out)
}

func maskURLsInValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		m := connectors.MaskURLs(x)
		return m, m != x
	case map[string]any:
		changed := false
		for k, e := range x {
			m, c := maskURLsInValue(e)
			x[k], changed = m, changed || c
		}
		return x, changed
	case []any:
		changed := false
		for i, e := range x {
			m, c := maskURLsInValue(e)
			x[i], changed = m, changed || c
		}
		return x, changed
	}
	return v, false
}
