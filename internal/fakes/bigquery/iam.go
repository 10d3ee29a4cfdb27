package bigquery

import "fmt"

// The predefined roles the fake knows, and the permissions of each it checks
// ("BigQuery IAM roles and permissions").
const (
	RoleJobUser        = "roles/bigquery.jobUser"
	RoleUser           = "roles/bigquery.user"
	RoleDataViewer     = "roles/bigquery.dataViewer"
	RoleMetadataViewer = "roles/bigquery.metadataViewer"
	RoleAdmin          = "roles/bigquery.admin"
)

// The permissions the fake checks.
const (
	permJobsCreate   = "bigquery.jobs.create"
	permDatasetsGet  = "bigquery.datasets.get"
	permTablesList   = "bigquery.tables.list"
	permTablesGet    = "bigquery.tables.get"
	permTablesGetDat = "bigquery.tables.getData"
)

var rolePermissions = map[string][]string{
	RoleJobUser:        {permJobsCreate},
	RoleUser:           {permJobsCreate, permDatasetsGet, permTablesList},
	RoleDataViewer:     {permDatasetsGet, permTablesList, permTablesGet, permTablesGetDat},
	RoleMetadataViewer: {permDatasetsGet, permTablesList, permTablesGet},
	RoleAdmin:          {permJobsCreate, permDatasetsGet, permTablesList, permTablesGet, permTablesGetDat},
}

// grantKey is where a role is granted: the project (dataset and table empty), a
// dataset, or a table.
type grantKey struct {
	email, dataset, table string
}

func (s *Server) grant(k grantKey, role string, on bool) {
	if _, ok := rolePermissions[role]; !ok {
		panic("fake bigquery: unknown role " + role)
	}
	s.set(func() {
		if s.roles[k] == nil {
			s.roles[k] = map[string]bool{}
		}
		if on {
			s.roles[k][role] = true
		} else {
			delete(s.roles[k], role)
		}
	})
}

// GrantProject grants a role on the project.
func (s *Server) GrantProject(email, role string) { s.grant(grantKey{email: email}, role, true) }

// RevokeProject removes a role granted on the project.
func (s *Server) RevokeProject(email, role string) { s.grant(grantKey{email: email}, role, false) }

// GrantDataset grants a role on a dataset.
func (s *Server) GrantDataset(email, dataset, role string) {
	s.grant(grantKey{email: email, dataset: dataset}, role, true)
}

// RevokeDataset removes a role granted on a dataset.
func (s *Server) RevokeDataset(email, dataset, role string) {
	s.grant(grantKey{email: email, dataset: dataset}, role, false)
}

// GrantTable grants a role on one table or view.
func (s *Server) GrantTable(email, dataset, table, role string) {
	s.grant(grantKey{email: email, dataset: dataset, table: table}, role, true)
}

// can reports whether email holds perm on the project, dataset or table (a grant on a
// wider resource holds for what it contains). Call with s.mu held.
func (s *Server) can(email, perm, dataset, table string) bool {
	keys := []grantKey{{email: email}}
	if dataset != "" {
		keys = append(keys, grantKey{email: email, dataset: dataset})
		if table != "" {
			keys = append(keys, grantKey{email: email, dataset: dataset, table: table})
		}
	}
	for _, k := range keys {
		for role := range s.roles[k] {
			for _, p := range rolePermissions[role] {
				if p == perm {
					return true
				}
			}
		}
	}
	return false
}

func (s *Server) allowed(email, perm, dataset, table string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.can(email, perm, dataset, table)
}

// The documented wording of each refusal.
func (s *Server) deniedJobsCreate() *queryError {
	return &queryError{reason: "accessDenied", message: fmt.Sprintf(
		"Access Denied: Project %s: User does not have bigquery.jobs.create permission in project %s.", s.project, s.project)}
}

func (s *Server) deniedQueryTable(ref tableRef) *queryError {
	name := s.project + ":" + ref.dataset + "." + ref.table
	return &queryError{reason: "accessDenied", message: fmt.Sprintf(
		"Access Denied: Table %s: User does not have permission to query table %s, or perhaps it does not exist.", name, name)}
}

func (s *Server) deniedDataset(perm, dataset string) *queryError {
	name := s.project + ":" + dataset
	return &queryError{reason: "accessDenied", message: fmt.Sprintf(
		"Access Denied: Dataset %s: Permission %s denied on dataset %s (or it may not exist).", name, perm, name)}
}

func (s *Server) deniedTable(perm string, ref tableRef) *queryError {
	name := s.project + ":" + ref.dataset + "." + ref.table
	return &queryError{reason: "accessDenied", message: fmt.Sprintf(
		"Access Denied: Table %s: Permission %s denied on table %s (or it may not exist).", name, perm, name)}
}
