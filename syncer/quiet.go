package syncer

import "time"

// QuietRun is what the quiet-runs status message shows of one job: its
// quiet runs in a row (runs that changed nothing and failed nothing), the
// last one's time and run ID, and the silent codes they counted.
type QuietRun struct {
	Job    Job
	Last   time.Time
	Count  int
	Silent int
	RunID  string
}
