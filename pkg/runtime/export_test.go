package runtime

// Waiting is how many requests wait for a group-commit batch in s: the
// tests let requests queue behind a batch held by a lock before they
// release it.
func Waiting(s *Server) int {
	if s.group == nil {
		return 0
	}
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}
