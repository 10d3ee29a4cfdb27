package models

import (
	"context"
	"encoding/json"
)

// RecordRunDuplicates stores what a run found about a model's keys: a report of the rows
// it withheld for a shared primary key flags the model (a warning), a report of none
// clears the flag. A broken model stays broken; its schema issues are left as they are.
func (s *Store) RecordRunDuplicates(ctx context.Context, workspaceID, id string, dups DuplicateReport) (*DataModel, error) {
	m, err := s.ModelByID(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(dups)
	if err != nil {
		return nil, err
	}
	status := m.Status
	if status != ModelBroken {
		status = ModelValid
		if dups.DuplicateRows+dups.NullKeys > 0 {
			status = ModelWarning
		}
	}
	res := s.db.WithContext(ctx).Model(&DataModel{}).Where("workspace_id = ? AND id = ?", workspaceID, id).
		Updates(map[string]any{"status": status, "duplicates_json": string(raw)})
	if res.Error != nil {
		return nil, translate(res.Error)
	}
	return s.ModelByID(ctx, workspaceID, id)
}
