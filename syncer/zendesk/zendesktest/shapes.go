package zendesktest

import (
	"encoding/json"
	"strconv"
)

// JobShape selects how the server writes job statuses, each field a shape
// the real API is seen to answer with (Job Statuses reference, its
// update_many example, and recorded answers of create_or_update_many).
// The zero value writes the plain documented shape: integer counters,
// one full result a record.
type JobShape struct {
	// FloatCounters writes total and progress as floats ("total":
	// 105.0).
	FloatCounters bool
	// NullWhileQueued writes total, progress and results as null while
	// the job is queued.
	NullWhileQueued bool
	// BareResults writes a successful record's result with only {id,
	// index} (creates) or {id, status} (updates, upserts, deletes).
	BareResults bool
	// PositionFailures writes a failed record's result as {"id": <its
	// position in the request>, "error", "details", "status": "Failed"},
	// without index or success: the id is not a record's ID.
	PositionFailures bool
	// PartialResults leaves out the result of every second successful
	// record, so that a completed job lists fewer results than its total
	// (as the documented update_many example does).
	PartialResults bool
}

// RealJobShape returns every shape of JobShape at once.
func RealJobShape() JobShape {
	return JobShape{FloatCounters: true, NullWhileQueued: true, BareResults: true, PositionFailures: true, PartialResults: true}
}

// SetJobShape makes the server write job statuses in shape (see
// JobShape); the zero JobShape restores the plain shape.
func (s *Server) SetJobShape(shape JobShape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shape = shape
}

// counter renders a job's total or progress.
func (js JobShape) counter(n int) any {
	if js.FloatCounters {
		return json.Number(strconv.Itoa(n) + ".0")
	}
	return n
}

// results renders a completed job's results, given in request order.
func (js JobShape) results(rs []jobResult) any {
	if !js.BareResults && !js.PositionFailures && !js.PartialResults {
		return rs
	}
	out := make([]any, 0, len(rs))
	succeeded := 0
	for pos, r := range rs {
		switch {
		case !r.Success && js.PositionFailures:
			if r.Index != nil {
				pos = *r.Index
			}
			out = append(out, map[string]any{"id": pos, "error": r.Error, "details": r.Details, "status": "Failed"})
		case !r.Success:
			out = append(out, r)
		case js.PartialResults && succeeded%2 == 1:
			succeeded++
		case js.BareResults && r.Index != nil:
			succeeded++
			out = append(out, map[string]any{"id": r.ID, "index": *r.Index})
		case js.BareResults:
			succeeded++
			out = append(out, map[string]any{"id": r.ID, "status": r.Status})
		default:
			succeeded++
			out = append(out, r)
		}
	}
	return out
}

// SetResultsObject makes job statuses carry "results" in the object form
// the Job Statuses reference also documents, {"success": true} when every
// record of a completed job succeeded ({"success": false} otherwise, and
// {} before it completes), instead of one result a record. false restores
// the array.
func (s *Server) SetResultsObject(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resultsObject = on
}
