package syncer_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/zdsync/zdsync/syncer"
)

// FuzzDecodeContact decodes arbitrary federal contact records, as the
// contacts query may return them (missing, null or oddly typed fields,
// parent fields that are not objects), and plans federal users from them:
// nothing panics, and a planned create or update always carries a valid,
// normalised e-mail, a name and the org of the contact's account.
func FuzzDecodeContact(f *testing.F) {
	f.Add(`{"Name":"Ann Lee","Email":" Ann@Agency.GOV ","Account":{"Account_ID_18__c":"001FtX87Q0000AAAAA","Name":"Agency"}}`)
	f.Add(`{"Name":null,"Email":12,"Account":"x","Inactive__c":"yes"}`)
	f.Add(`{"Name":"Bo","Email":"bo@agency.gov","Account":{"Account_ID_18__c":7}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, raw string) {
		var rec map[string]any
		if json.Unmarshal([]byte(raw), &rec) != nil {
			return
		}
		c := syncer.DecodeContact(rec)
		orgs := []syncer.Org{{ID: 1, ExternalID: c.AccountID}}
		p := syncer.PlanUsers([]syncer.Contact{c, c}, nil, orgs)
		for _, ch := range p.Changes {
			if ch.Action == syncer.Skip {
				continue
			}
			u := ch.User
			if u == nil || !syncer.ValidEmail(u.Email) || u.Email != syncer.NormalizeEmail(u.Email) ||
				strings.TrimSpace(u.Name) == "" || u.OrgID != 1 {
				t.Fatalf("contact %+v planned %+v (user %+v)", c, ch, u)
			}
		}
		if n := p.Count(syncer.Create); n > 1 {
			t.Fatalf("one contact twice planned %d creates", n)
		}
	})
}
