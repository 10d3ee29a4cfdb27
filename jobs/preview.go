package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"sluice/connectors"
	"sluice/engine"
	"sluice/models"
	"sluice/segments"
)

// PreviewSize is how many records a preview shows.
const PreviewSize = 10

// Preview is what an activation would do, worked out before it is saved: the records
// its first run sends, exactly as sent, and the rows it withholds.
type Preview struct {
	// Count is how many rows the segment holds now.
	Count int64
	// Records are the first PreviewSize records in the order the run sends them, with
	// their fields validated and normalized (phones in E.164, e-mails lower-cased…).
	Records []connectors.Record
	// Withheld are examples of rows the run does not send (source issues), with why.
	Withheld []engine.Issue
	// Action is the platform's action as this platform is configured (batch size,
	// whether it can send removals).
	Action connectors.Action
}

// Preview checks a draft activation as CreateActivation does, then builds its job as a
// run does and samples it: nothing is sent and no sync state is read or written. A
// draft that fails the checks answers a *models.FieldError; a source or platform that
// cannot be read answers a *connectors.Error whose Message can be shown.
func (s *Runner) Preview(ctx context.Context, workspaceID string, in models.ActivationInput) (*Preview, error) {
	if err := s.core.CheckActivation(ctx, workspaceID, &in); err != nil {
		return nil, err
	}
	job, closeAll, err := s.buildJob(ctx, jobInput{
		workspaceID: workspaceID, segmentID: in.SegmentID, platformID: in.PlatformID, action: in.Action,
		mappings: in.Mappings, settings: in.Settings,
	})
	defer closeAll()
	var pf *preflightError
	if errors.As(err, &pf) {
		return nil, &connectors.Error{Category: pf.category, Message: pf.message}
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: preview: %w", err)
	}
	p := &Preview{Action: job.Action}
	if p.Count, err = countRows(ctx, job); err != nil {
		return nil, err
	}
	if p.Records, p.Withheld, err = engine.Sample(ctx, *job, PreviewSize); err != nil {
		return nil, err
	}
	return p, nil
}

// countRows counts the segment with its compiled SQL, in the warehouse.
func countRows(ctx context.Context, job *engine.Job) (int64, error) {
	q, args, err := segments.CountSQL(job.Source.Dialect(), job.Relation, job.Condition, job.Columns)
	if err != nil {
		return 0, &connectors.Error{Category: connectors.CategoryConfiguration, Message: segments.CompileMessage(err), Detail: err.Error(), Err: err}
	}
	var n int64
	err = job.Source.Query(ctx, q, args, func(row []any) error {
		switch v := row[0].(type) {
		case int64:
			n = v
		case float64:
			n = int64(v)
		case []byte:
			n, err = strconv.ParseInt(string(v), 10, 64)
		case string:
			n, err = strconv.ParseInt(v, 10, 64)
		default:
			return fmt.Errorf("jobs: count: unexpected %T", v)
		}
		return err
	})
	if err != nil {
		if ce, ok := connectors.AsError(err); ok {
			return 0, ce
		}
		return 0, &connectors.Error{Category: connectors.CategoryConnection, Message: "Counting the segment in the source failed.", Detail: err.Error(), Err: err}
	}
	return n, nil
}
