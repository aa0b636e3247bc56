package syncer

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"action", "kind", "key", "name", "zendesk_id", "field", "before", "after", "reason", "code", "message"}

// WriteCSV writes changes and record errors as CSV, the one format of
// every list zdsync exports (`zdsync plan show --csv`, the files attached
// in Slack): a header row, one row per change (the fields of an update in
// the field, before and after cells, one per line), then one row per
// record error (action "error", with its code and message). Every cell is
// spreadsheet-safe (see spreadsheetSafe).
func WriteCSV(w io.Writer, changes []Change, errs []RecordError) error {
	cw := csv.NewWriter(w)
	write := func(row []string) {
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		_ = cw.Write(row) // a failed write is in cw.Error
	}
	write(slices.Clone(CSVHeader))
	for _, c := range changes {
		var fields, before, after []string
		for _, d := range c.Diffs {
			fields, before, after = append(fields, d.Field), append(before, d.Before), append(after, d.After)
		}
		id := ""
		if c.ID != 0 {
			id = strconv.FormatInt(c.ID, 10)
		}
		write([]string{string(c.Action), c.Kind, c.Key, c.Name, id,
			strings.Join(fields, "\n"), strings.Join(before, "\n"), strings.Join(after, "\n"), c.Reason, "", ""})
	}
	for _, e := range errs {
		write([]string{"error", "", e.Record, "", "", "", "", "", "", strconv.Itoa(int(e.Code)), e.Message})
	}
	cw.Flush()
	return cw.Error()
}

// spreadsheetSafe neutralizes a cell a spreadsheet would run as a formula:
// one that begins with =, +, -, @, a tab or a carriage return gets a
// leading apostrophe, which spreadsheets show as text (OWASP, "CSV
// Injection"). Names, reasons and field values come from Salesforce and
// Zendesk, where anyone with edit rights can type them.
func spreadsheetSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
