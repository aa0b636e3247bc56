package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/commands"
	"github.com/zdsync/zdsync/syncer"
)

var update = flag.Bool("update", false, "rewrite golden files and the README's generated tables")

// readmeTables renders the README's reference tables from the one place in
// code each of them lives.
func readmeTables() map[string]string {
	var b strings.Builder
	t := map[string]string{}

	b.WriteString("| code | name | kind | meaning | what to do |\n|---|---|---|---|---|\n")
	for _, c := range syncer.Codes {
		kind := "failure"
		switch {
		case c.Silent:
			kind = "silent (exit 0, no alert)"
		case c.Retry == syncer.RetrySoon:
			kind = "failure, retried"
		case c.Retry == syncer.RetryLater:
			kind = "failure, retried later"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", c.Code, c.Name, kind, c.Meaning, c.Runbook)
	}
	t["codes"] = b.String()

	b.Reset()
	b.WriteString("| Zendesk org | Salesforce account | type | jobs |\n|---|---|---|---|\n")
	b.WriteString("| name | `Name` | text | both |\n| external_id | `Account_ID_18__c` | text | both |\n")
	for _, m := range syncer.OrgFields {
		src := "`" + m.Salesforce + "`"
		if m.Salesforce == "" {
			src = m.Derived
		}
		scope := "both"
		if m.Scope != "" {
			scope = string(m.Scope) + " only"
		}
		fmt.Fprintf(&b, "| organization_fields.%s | %s | %s | %s |\n", m.Zendesk, src, m.Type, scope)
	}
	t["fields"] = b.String()

	b.Reset()
	b.WriteString("| owned tag | jobs | set when |\n|---|---|---|\n")
	for _, r := range syncer.TagRules {
		tag := "`" + r.Exact + "`"
		if r.Prefix != "" {
			tag = "`" + r.Prefix + "…`"
		}
		scope := "both"
		if r.Scope != "" {
			scope = string(r.Scope) + " only"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", tag, scope, r.Rule)
	}
	t["tags"] = b.String()

	b.Reset()
	b.WriteString("| Salesforce case | from the Zendesk ticket | rule |\n|---|---|---|\n")
	for _, f := range syncer.CaseFields {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.Salesforce, f.Zendesk, f.Rule)
	}
	t["case-fields"] = b.String()

	b.Reset()
	b.WriteString("| command | writes | what it does |\n|---|---|---|\n")
	for _, c := range commands.Table() {
		writes := "no"
		if c.Writes {
			writes = "yes — writers only"
			if c.DryRun {
				writes += " (`--dry-run`: no)"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Usage(), writes, c.Description)
	}
	t["slash"] = b.String()

	b.Reset()
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range configVars() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.name, v.def, v.help)
	}
	t["config"] = b.String()
	return t
}

// TestREADMETables keeps the README's tables equal to the code they
// document; go test -run TestREADMETables -update rewrites them.
func TestREADMETables(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for name, table := range readmeTables() {
		re := regexp.MustCompile(`(?s)(<!-- BEGIN ` + name + ` -->\n).*?(<!-- END ` + name + ` -->)`)
		if !re.MatchString(readme) {
			t.Errorf("README has no <!-- BEGIN %s --> … <!-- END %s --> section", name, name)
			continue
		}
		want := re.ReplaceAllLiteralString(readme, "<!-- BEGIN "+name+" -->\n"+table+"<!-- END "+name+" -->")
		if want != readme {
			if *update {
				readme = want
				continue
			}
			t.Errorf("README table %q is out of date with the code; run go test -run TestREADMETables -update", name)
		}
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
