package syncer

import (
	"strings"
	"testing"
)

// TestNormalizeID checks the one ID normalizer: a 15-character ID gets its
// suffix, an 18-character ID typed with its case changed gets its case
// back, and an ID whose suffix cannot belong to it is refused.
func TestNormalizeID(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{"an 18-character ID is kept", "0014M00001sGJ8xQAG", "0014M00001sGJ8xQAG", ""},
		{"a 15-character ID gets its suffix", "001Dn00000AbCdE", "001Dn00000AbCdEIAV", ""},
		{"an ID typed in lower case gets its case back", "0014m00001sgj8xqag", "0014M00001sGJ8xQAG", ""},
		{"an ID typed in upper case gets its case back", "0014M00001SGJ8XQAG", "0014M00001sGJ8xQAG", ""},
		{"a suffix marking a digit upper case is refused", "001Dn00000AbCdEBAV", "", "cannot belong to the first 15"},
		{"a suffix character outside the alphabet is refused", "001Dn00000AbCdEI9V", "", "cannot belong to the first 15"},
		{"a short ID is refused", "001abc", "", "15 or 18 letters and digits"},
		{"punctuation is refused before any query", "001' OR Name != '", "", "15 or 18 letters and digits"},
		{"a long input is cut in the message", strings.Repeat("x", 100), "", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeID(tt.in)
			if tt.err != "" {
				if err == nil || ErrorCode(err) != CodeInvalidInput || !strings.Contains(ErrorMessage(err), tt.err) {
					t.Errorf("NormalizeID(%q) = %q, %v; want code 17 saying %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// A 15-character ID and its 18-character form normalize alike, whatever
// the case the 18 characters were typed in.
func TestNormalizeIDRoundTrips(t *testing.T) {
	for _, id15 := range []string{"001000000000001", "0014M00001sGJ8x", "a0B1c2D3e4F5g6H", "ZZZZZZZZZZZZZZZ", "zzzzzzzzzzzzzzz"} {
		id18, err := NormalizeID(id15)
		if err != nil {
			t.Fatalf("NormalizeID(%q): %v", id15, err)
		}
		for _, typed := range []string{id18, strings.ToLower(id18), strings.ToUpper(id18)} {
			if got, err := NormalizeID(typed); err != nil || got != id18 {
				t.Errorf("NormalizeID(%q) = %q, %v; want %q", typed, got, err, id18)
			}
		}
	}
}
