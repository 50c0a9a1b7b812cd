package session

// FlashKey is the session key under which AddFlash keeps its messages.
const FlashKey = "_flashes"

// AddFlash appends a one-time message (any session value) for a later
// request, which reads it with Flashes.
func (s *Session) AddFlash(msg any) {
	n, err := normalize(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	if err != nil {
		s.failLocked("AddFlash", FlashKey, err)
		return
	}
	v, _ := s.getLocked(FlashKey)
	list, _ := v.([]any)
	s.d.set(FlashKey, append(list, n))
}

// Flashes returns the pending flash messages and removes them from the
// session. It returns nil, and leaves the session unmodified, when there are
// none.
func (s *Session) Flashes() []any {
	v, ok := s.Pop(FlashKey)
	if !ok {
		return nil
	}
	list, _ := v.([]any)
	return list
}
