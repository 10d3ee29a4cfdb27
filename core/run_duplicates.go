package core

import (
	"context"
	"fmt"
	"time"

	"sluice/models"
)

// RunFoundDuplicates records what a run learnt about its model's keys. Rows withheld for
// a shared primary key flag the model (a warning and an open duplicate-keys issue naming
// the run's count); a run that read its whole segment and found none clears a flag a run
// set. A flag from validation, which counts the whole model, is cleared only by
// validation: a segment is a part of the model.
func (s *Service) RunFoundDuplicates(ctx context.Context, workspaceID, modelID, runID string, duplicateRows, queried int64) (*models.DataModel, error) {
	m, err := s.store.ModelByID(ctx, workspaceID, modelID)
	if err != nil {
		return nil, err
	}
	prev := m.Duplicates()
	flagged := prev != nil && prev.DuplicateRows+prev.NullKeys > 0
	if duplicateRows == 0 && (!flagged || prev.RunID == "") {
		return m, nil
	}
	report := models.DuplicateReport{CheckedAt: time.Now().UTC(), Rows: queried, DuplicateRows: duplicateRows, Samples: []string{}, RunID: runID}
	if m, err = s.store.RecordRunDuplicates(ctx, workspaceID, modelID, report); err != nil {
		return nil, err
	}
	var found []models.IssueInput
	if duplicateRows > 0 {
		found = append(found, models.IssueInput{Column: m.PrimaryKey, Kind: models.IssueDuplicateKeys,
			Message: fmt.Sprintf("A run of model %s found %d of %d rows sharing their primary key %s; they were not sent.",
				m.Name, duplicateRows, queried, m.PrimaryKey)})
	}
	if _, err := s.store.RecordIssues(ctx, workspaceID, models.IssueObjectModel, m.ID, found, []string{models.IssueDuplicateKeys}); err != nil {
		return nil, err
	}
	return m, nil
}
