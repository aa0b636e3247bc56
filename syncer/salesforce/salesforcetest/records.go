package salesforcetest

// AddAccounts stores copies of accounts; an account whose ID is already
// stored replaces it in place. Query results list accounts in the order
// they were first added. Accounts and their child records get IDs and
// SystemModstamps as UpdateAccount gives them.
func (s *Server) AddAccounts(accounts ...Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAccountsLocked(accounts)
}

func (s *Server) addAccountsLocked(accounts []Account) {
	for _, a := range accounts {
		old, ok := s.accounts[a.ID]
		if !ok {
			s.order = append(s.order, a.ID)
		}
		c := clone(a)
		s.stampAccountLocked(old, c)
		s.accounts[a.ID] = c
	}
}

// UpdateAccount applies fn to a copy of the account with the given ID and
// stores the result, stamped as an update (its SystemModstamp when its own
// fields changed, each changed or new child's, a removed child kept as
// deleted); it reports whether the account exists. fn must not change the
// ID; a SystemModstamp fn sets is kept (a change committed late).
func (s *Server) UpdateAccount(id string, fn func(*Account)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return false
	}
	c := clone(*a)
	fn(c)
	c.ID = id
	s.stampAccountLocked(a, c)
	s.accounts[id] = c
	return true
}

// RemoveAccounts deletes the accounts with the given IDs. Contacts keep
// their AccountID and, their account gone, are no longer selected.
func (s *Server) RemoveAccounts(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		if _, ok := s.accounts[id]; ok {
			gone[id] = true
			delete(s.accounts, id)
		}
	}
	s.order = filterOut(s.order, gone)
}

// Accounts returns copies of the stored accounts, in query order.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *clone(*s.accounts[id]))
	}
	return out
}

// AddContacts stores copies of contacts, assigning an ID to those without
// one; a contact whose ID is already stored replaces it in place.
func (s *Server) AddContacts(contacts ...Contact) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addContactsLocked(contacts)
}

func (s *Server) addContactsLocked(contacts []Contact) {
	for _, c := range contacts {
		if c.ID == "" {
			s.seq++
			c.ID = makeID("003", 'X', 0, s.seq)
		}
		old, ok := s.contacts[c.ID]
		if !ok {
			s.contactOrder = append(s.contactOrder, c.ID)
		}
		cc := c
		s.stampContactLocked(old, &cc)
		s.contacts[c.ID] = &cc
	}
}

// RemoveContacts deletes the contacts with the given IDs (queryAll still
// returns them, deleted).
func (s *Server) RemoveContacts(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := map[string]bool{}
	for _, id := range ids {
		if c, ok := s.contacts[id]; ok {
			gone[id] = true
			delete(s.contacts, id)
			s.deleted = append(s.deleted, tombstone{object: objContact, id: id, accountID: c.AccountID, stamp: s.now()})
		}
	}
	s.contactOrder = filterOut(s.contactOrder, gone)
}

// Contacts returns copies of the stored contacts, in query order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contactOrder))
	for _, id := range s.contactOrder {
		out = append(out, *s.contacts[id])
	}
	return out
}

func filterOut(ids []string, gone map[string]bool) []string {
	if len(gone) == 0 {
		return ids
	}
	out := ids[:0]
	for _, id := range ids {
		if !gone[id] {
			out = append(out, id)
		}
	}
	return out
}
