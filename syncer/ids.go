package syncer

import "strings"

// Salesforce record IDs come in two forms: 15 case-sensitive characters,
// and 18 characters whose last three encode which letters of the first 15
// are upper case, five characters each, so that the ID survives tools that
// ignore case (Salesforce Help, "What is a Case-Safe ID?"; the CASESAFEID()
// formula). Account_ID_18__c and Zendesk's external_id hold the 18-character
// form.
const (
	shortIDLen   = 15
	accountIDLen = 18
)

// idSuffixAlphabet maps the five case bits of one group of an ID (bit i set
// when its i-th character is upper case) to the suffix character.
const idSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// IsAccountID reports whether s is an 18-character Salesforce ID: the mark
// of an org that belongs to the sync.
func IsAccountID(s string) bool {
	return len(s) == accountIDLen && alphanumeric(s)
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// NormalizeID checks a Salesforce record ID a person typed or pasted (15 or
// 18 ASCII letters and digits) and returns its 18-character form, the one
// Account_ID_18__c and external_id hold: a 15-character ID gets its
// suffix; an 18-character ID whose letters changed case (typed in lower
// case, say) gets its true case back from its suffix. An ID whose suffix
// cannot belong to its first 15 characters, or anything else, is an *Error
// with CodeInvalidInput, so no unchecked text ever reaches SOQL. It is the
// one ID normalizer of zdsync: the CLI, the slash commands and the
// Salesforce adapter all use it.
func NormalizeID(id string) (string, error) {
	shown := id
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	if (len(id) != shortIDLen && len(id) != accountIDLen) || !alphanumeric(id) {
		return "", Errorf(CodeInvalidInput, "%q is not a Salesforce ID (15 or 18 letters and digits)", shown)
	}
	if len(id) == shortIDLen {
		return id + idSuffix(id), nil
	}
	restored, ok := restoreCase(id)
	if !ok {
		return "", Errorf(CodeInvalidInput, "%q is not a Salesforce ID: its last 3 characters cannot belong to the first 15 (a character was mistyped)", shown)
	}
	return restored, nil
}

// IsSalesforceID reports whether s is a Salesforce record ID (see
// NormalizeID): what a ticket's case-ID field must hold to name a case.
// Anything else (an agent's "N/A") names none.
func IsSalesforceID(s string) bool {
	_, err := NormalizeID(s)
	return err == nil
}

// idSuffix returns the three characters that encode which letters of a
// 15-character ID are upper case.
func idSuffix(id15 string) string {
	var b [3]byte
	for group := range 3 {
		bits := 0
		for i := range 5 {
			if c := id15[group*5+i]; c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		b[group] = idSuffixAlphabet[bits]
	}
	return string(b[:])
}

// restoreCase gives the first 15 characters of an 18-character ID the case
// its suffix encodes (the suffix itself is read case-insensitively). It
// fails when a suffix character is not one of idSuffixAlphabet or marks a
// digit as upper case: such a suffix belongs to no ID with these characters.
func restoreCase(id18 string) (string, bool) {
	suffix := strings.ToUpper(id18[shortIDLen:])
	b := []byte(id18[:shortIDLen])
	for group := range 3 {
		bits := strings.IndexByte(idSuffixAlphabet, suffix[group])
		if bits < 0 {
			return "", false
		}
		for i := range 5 {
			c := &b[group*5+i]
			letter := *c >= 'a' && *c <= 'z' || *c >= 'A' && *c <= 'Z'
			switch upper := bits&(1<<i) != 0; {
			case upper && !letter:
				return "", false
			case upper:
				*c &^= 'a' - 'A' // ASCII upper case
			case letter:
				*c |= 'a' - 'A' // ASCII lower case
			}
		}
	}
	return string(b) + suffix, true
}
