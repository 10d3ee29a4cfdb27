package bigquery

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

func (s *Server) datasetResource(name, location string) map[string]any {
	return map[string]any{
		"kind":             "bigquery#dataset",
		"etag":             `"` + name + `"`,
		"id":               s.project + ":" + name,
		"selfLink":         s.Endpoint() + "projects/" + s.project + "/datasets/" + name,
		"datasetReference": datasetRef{ProjectID: s.project, DatasetID: name},
		"location":         location,
		"type":             "DEFAULT",
		"creationTime":     "1700000000000",
		"lastModifiedTime": "1700000000000",
	}
}

// datasetsList lists the datasets the caller can see (bigquery.datasets.get on it).
func (s *Server) datasetsList(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	s.mu.Lock()
	var names []string
	for name := range s.datasets {
		if s.can(caller, permDatasetsGet, name, "") {
			names = append(names, name)
		}
	}
	locs := map[string]string{}
	for _, n := range names {
		locs[n] = s.datasets[n]
	}
	s.mu.Unlock()
	sort.Strings(names)
	list := make([]map[string]any, len(names))
	for i, n := range names {
		d := s.datasetResource(n, locs[n])
		list[i] = map[string]any{"kind": d["kind"], "id": d["id"], "datasetReference": d["datasetReference"], "location": d["location"]}
	}
	resp := map[string]any{"kind": "bigquery#datasetList", "etag": `"datasets"`}
	if len(list) > 0 {
		resp["datasets"] = list
	}
	writeJSON(w, http.StatusOK, resp)
}

// dataset finds a dataset the caller may use with perm, answering BigQuery's 404 or
// 403 otherwise (403 first: without access BigQuery does not say whether it exists).
func (s *Server) dataset(w http.ResponseWriter, r *http.Request, caller, perm string) (string, string, bool) {
	name := r.PathValue("dataset")
	s.mu.Lock()
	loc, ok := s.datasets[name]
	allowed := s.can(caller, perm, name, "")
	s.mu.Unlock()
	if !allowed {
		writeQueryError(w, s.deniedDataset(perm, name))
		return "", "", false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: Dataset %s:%s", s.project, name))
		return "", "", false
	}
	return name, loc, true
}

func (s *Server) datasetsGet(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	name, loc, ok := s.dataset(w, r, caller, permDatasetsGet)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.datasetResource(name, loc))
}

type tableRow struct {
	name, kind string
}

func (s *Server) tablesOf(ctx context.Context, dataset string) ([]tableRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname, c.relkind::text FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY c.relname`, dataset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tableRow
	for rows.Next() {
		var t tableRow
		if err := rows.Scan(&t.name, &t.kind); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func tableType(relkind string) string {
	switch relkind {
	case "v":
		return "VIEW"
	case "m":
		return "MATERIALIZED_VIEW"
	}
	return "TABLE"
}

// tablesList pages through a dataset's tables (maxResults, pageToken).
func (s *Server) tablesList(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	name, _, ok := s.dataset(w, r, caller, permTablesList)
	if !ok {
		return
	}
	tables, err := s.tablesOf(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backendError", "Error encountered during execution. Retrying may solve the problem.")
		return
	}
	start := 0
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(tables) {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid page token: "+tok)
			return
		}
		start = n
	}
	max := 1000
	if v := r.URL.Query().Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid value for maxResults: "+v)
			return
		}
		if n > 0 {
			max = n
		}
	}
	end := min(start+max, len(tables))
	list := make([]map[string]any, 0, end-start)
	for _, t := range tables[start:end] {
		list = append(list, map[string]any{
			"kind":           "bigquery#table",
			"id":             s.project + ":" + name + "." + t.name,
			"tableReference": map[string]string{"projectId": s.project, "datasetId": name, "tableId": t.name},
			"type":           tableType(t.kind),
			"creationTime":   "1700000000000",
		})
	}
	resp := map[string]any{"kind": "bigquery#tableList", "etag": `"tables"`, "totalItems": len(tables)}
	if len(list) > 0 {
		resp["tables"] = list
	}
	if end < len(tables) {
		resp["nextPageToken"] = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// tablesGet describes a table or view: its schema from the catalogue.
func (s *Server) tablesGet(w http.ResponseWriter, r *http.Request, caller string, _ []byte) {
	ds := r.PathValue("dataset")
	ref := tableRef{dataset: ds, table: r.PathValue("table")}
	s.mu.Lock()
	loc, dsOK := s.datasets[ds]
	allowed := s.can(caller, permTablesGet, ref.dataset, ref.table)
	s.mu.Unlock()
	if !allowed {
		writeQueryError(w, s.deniedTable(permTablesGet, ref))
		return
	}
	if !dsOK {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: Dataset %s:%s", s.project, ds))
		return
	}
	rows, err := s.pool.Query(r.Context(), `SELECT a.attname, a.atttypid, a.atttypmod, c.relkind::text
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, ref.dataset, ref.table)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "backendError", "Error encountered during execution. Retrying may solve the problem.")
		return
	}
	var fields []field
	kind := ""
	for rows.Next() {
		var name string
		var oid uint32
		var typmod int32
		if err := rows.Scan(&name, &oid, &typmod, &kind); err != nil {
			rows.Close()
			writeError(w, http.StatusInternalServerError, "backendError", "Error encountered during execution. Retrying may solve the problem.")
			return
		}
		fields = append(fields, field{Name: name, Type: bqType(oid, typmod), Mode: "NULLABLE"})
	}
	rows.Close()
	if kind == "" {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("Not found: Table %s:%s.%s", s.project, ref.dataset, ref.table))
		return
	}
	var numRows, numBytes int64
	qualified := pgIdent(ref.dataset) + "." + pgIdent(ref.table)
	_ = s.pool.QueryRow(r.Context(), "SELECT coalesce(reltuples, 0)::bigint, pg_table_size(oid) FROM pg_catalog.pg_class WHERE oid = to_regclass($1)", qualified).Scan(&numRows, &numBytes)
	writeJSON(w, http.StatusOK, map[string]any{
		"kind":           "bigquery#table",
		"etag":           `"` + ref.table + `"`,
		"id":             s.project + ":" + ref.dataset + "." + ref.table,
		"selfLink":       s.Endpoint() + "projects/" + s.project + "/datasets/" + ref.dataset + "/tables/" + ref.table,
		"tableReference": map[string]string{"projectId": s.project, "datasetId": ref.dataset, "tableId": ref.table},
		"schema":         map[string]any{"fields": fields},
		"numRows":        strconv.FormatInt(max(numRows, 0), 10),
		"numBytes":       strconv.FormatInt(numBytes, 10),
		"type":           tableType(kind),
		"location":       loc,
		"creationTime":   "1700000000000",
	})
}
