package syncer

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// Every cell a spreadsheet would run as a formula is neutralized with a
// leading apostrophe (OWASP, "CSV Injection"); others are written as they
// are.
func TestWriteCSVIsSpreadsheetSafe(t *testing.T) {
	changes := []Change{
		{Action: Update, Kind: "org", Key: "001A", Name: "=HYPERLINK(\"http://evil\")", ID: 7,
			Diffs: []FieldDiff{{Field: "account_owner", Before: "+1 555", After: "-2+3"}}},
		{Action: Skip, Kind: "user", Key: "@admin", Name: "\tTabbed", Reason: "\rcarriage"},
		{Action: Create, Kind: "user", Key: "ann@agency.gov", Name: "Ann - the boss"},
	}
	errs := []RecordError{{Code: CodeItemFailed, Record: "001B", Message: "=1+1 refused"}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, changes, errs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse back: %v\n%s", err, buf.String())
	}
	if len(rows) != 5 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("rows = %q", rows)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}
	for _, want := range []string{`'=HYPERLINK("http://evil")`, "'+1 555", "'-2+3", "'@admin", "'\tTabbed", "'\rcarriage", "'=1+1 refused"} {
		if !strings.Contains(strings.Join(flatten(rows), "|"), want) {
			t.Errorf("no neutralized cell %q in %q", want, rows)
		}
	}
	if rows[3][3] != "Ann - the boss" || rows[4][0] != "error" || rows[4][9] != "7" {
		t.Errorf("rows %q", rows[3:])
	}
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
