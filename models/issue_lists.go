package models

import "context"

// OpenIssuesByObject answers the open validation issues of the listed objects (sources or
// models), grouped by object id and oldest first, in one query: the lists show a warning
// per row without a query per row.
func (s *Store) OpenIssuesByObject(ctx context.Context, workspaceID string, objectIDs []string) (map[string][]ValidationIssue, error) {
	out := map[string][]ValidationIssue{}
	if len(objectIDs) == 0 {
		return out, nil
	}
	var rows []ValidationIssue
	err := s.db.WithContext(ctx).Where("workspace_id = ? AND resolved_at IS NULL AND object_id IN ?", workspaceID, objectIDs).
		Order("id").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, is := range rows {
		out[is.ObjectID] = append(out[is.ObjectID], is)
	}
	return out, nil
}
