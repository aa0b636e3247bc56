package main

import (
	"fmt"
	"strings"

	"github.com/zdsync/zdsync/syncer"
)

// onCall shows the on-call tools (sections 6 and 7): explain of a greatly
// expired account kept by a guard, and the undo of the first global-orgs
// run through a stored plan, then the refusal of a second undo.
func (d *demo) onCall() error {
	out := d.out
	section(out, "6. explain: why does this org look like this? (read live; `zdsync explain <SFID>`, /zdsync explain)")
	if account := d.explained(); account != "" {
		var b strings.Builder
		d.p.core.Explain(d.ctx, account, []syncer.Job{syncer.JobGlobalOrgs, syncer.JobFederalOrgs}).WriteText(&b)
		fmt.Fprintln(out, indent(b.String(), "  "))
	}

	first := d.runs[0]
	section(out, "7. undo: putting the first global-orgs run back (`zdsync undo "+first.RunID+"`, /zdsync undo)")
	preview := d.run(syncer.Request{UndoOf: first.RunID, Options: syncer.Options{DryRun: true, SavePlan: true}})
	if preview.PlanID == "" {
		d.report(preview)
		return nil
	}
	plan, err := d.p.db.GetPlan(d.ctx, preview.PlanID)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "  the preview, stored as a plan for Apply / Discard in Slack:")
	syncer.WritePlanText(out, plan, 5)
	fmt.Fprintln(out, "  applied:")
	d.report(d.run(syncer.Request{PlanID: plan.ID}))
	fmt.Fprintln(out, "  undoing the same run again is refused:")
	fmt.Fprintf(out, "  %s\n", d.run(syncer.Request{UndoOf: first.RunID}).Message)
	return nil
}

// explained picks the account the demo explains: a greatly expired one
// whose org the guards keep (it has a ticket that is not closed).
func (d *demo) explained() string {
	if len(d.sb.Protected) < 3 {
		return ""
	}
	if o, ok := d.sb.Global.Org(d.sb.Protected[2]); ok {
		return o.ExternalID
	}
	return ""
}
