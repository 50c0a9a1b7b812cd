package redisstore

// SetSplitMode makes s use the split-mode index protocol (see doc.go) even
// on a standalone server, so that tests exercise it without a Cluster.
func SetSplitMode(s *Store) { s.singleSlot = false }

// SingleSlot reports whether s runs in single-slot mode.
func SingleSlot(s *Store) bool { return s.singleSlot }

// Guarded reports whether s enforces context deadlines itself.
func Guarded(s *Store) bool { return s.guard }

// ClaimWindow is the split-mode claim window.
const ClaimWindow = claimWindow

// Prefix returns s's key prefix.
func Prefix(s *Store) string { return s.prefix }
