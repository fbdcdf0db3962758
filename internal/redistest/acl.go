package redistest

// SetUser creates or replaces the ACL user name on the server: it starts
// from nothing (ACL SETUSER name reset: no commands, keys or channels),
// enables the user with password, then applies rules, such as "~app:*",
// "&app:*", "+get" or "-@all". The default user keeps its full rights, so
// the test can still set up and inspect the server. It fails the test if
// the server refuses a rule.
func (s *Server) SetUser(name, password string, rules ...string) {
	s.tb.Helper()
	args := append([]string{"ACL", "SETUSER", name, "reset", "on", ">" + password}, rules...)
	if _, err := s.Command(args...); err != nil {
		s.tb.Fatalf("redistest: ACL SETUSER %s on %s: %v", name, s.Addr(), err)
	}
}
