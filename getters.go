package session

import (
	"fmt"
	"math"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// GetString returns the string under key; ok is false when the key is absent
// or holds another type.
func (s *Session) GetString(key string) (v string, ok bool) {
	x, _ := s.Get(key)
	v, ok = x.(string)
	return v, ok
}

// GetBool returns the bool under key; ok is false when the key is absent or
// holds another type.
func (s *Session) GetBool(key string) (v bool, ok bool) {
	x, _ := s.Get(key)
	v, ok = x.(bool)
	return v, ok
}

// GetInt64 returns the integer under key. A float64 with no fractional part
// (as the JSON codec may return) is accepted too. ok is false when the key is
// absent or its value is not an integer that fits.
func (s *Session) GetInt64(key string) (int64, bool) {
	s.mu.Lock()
	s.readLocked()
	if n, ok, read := s.d.rawInt(key); read {
		s.mu.Unlock()
		return n, ok
	}
	x, _ := s.getLocked(key)
	s.mu.Unlock()
	switch n := x.(type) {
	case int64:
		return n, true
	case uint64:
		return 0, false // always above math.MaxInt64 in the type model
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// GetInt is GetInt64 for values that fit in an int.
func (s *Session) GetInt(key string) (int, bool) {
	n, ok := s.GetInt64(key)
	if !ok || n < math.MinInt || n > math.MaxInt {
		return 0, false
	}
	return int(n), true
}

// GetFloat64 returns the number under key as a float64; integers are
// converted. ok is false when the key is absent or holds no number.
func (s *Session) GetFloat64(key string) (float64, bool) {
	x, _ := s.Get(key)
	switch n := x.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// GetTime returns the time under key. An RFC 3339 string (as the JSON codec
// returns) is parsed. ok is false when the key is absent or holds no time.
func (s *Session) GetTime(key string) (time.Time, bool) {
	x, _ := s.Get(key)
	switch t := x.(type) {
	case time.Time:
		return t, true
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		return p.UTC(), err == nil
	}
	return time.Time{}, false
}

// GetBytes returns the []byte under key; ok is false when the key is absent
// or holds another type. The slice is the session's own: do not modify it.
func (s *Session) GetBytes(key string) ([]byte, bool) {
	x, _ := s.Get(key)
	b, ok := x.([]byte)
	return b, ok
}

// GetAs returns the value under key as a T. A value that already is a T is
// returned as is; otherwise it is converted through msgpack, which turns the
// map[string]any a struct became when it was set back into that struct. It
// returns an error wrapping ErrKeyNotFound when the key is absent.
func GetAs[T any](s *Session, key string) (T, error) {
	var out T
	x, ok := s.Get(key)
	if !ok {
		return out, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	if v, ok := x.(T); ok {
		return v, nil
	}
	b, err := msgpack.Marshal(x)
	if err == nil {
		err = msgpack.Unmarshal(b, &out)
	}
	if err != nil {
		return out, fmt.Errorf("session: GetAs(%q): cannot convert %T to %T: %v", key, x, out, err)
	}
	return out, nil
}
