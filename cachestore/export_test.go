package cachestore

import "github.com/sessionkv/session"

// Peek returns the record cached under key, usable or not, without
// touching the cache's policy.
func Peek(s *Store, key string) (session.Record, bool) {
	e, ok := s.cache.GetEntryQuietly(key)
	if !ok {
		return session.Record{}, false
	}
	return e.Value.record(), true
}

// Cached returns the number of cached records and their weight (0 when the
// cache is bounded by entries), after pending evictions.
func Cached(s *Store) (entries int, weight uint64) {
	s.cache.CleanUp()
	return s.cache.EstimatedSize(), s.cache.WeightedSize()
}
