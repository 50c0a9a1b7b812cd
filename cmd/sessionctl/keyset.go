package main

import (
	"encoding/hex"
	"time"

	"github.com/sessionkv/session"
)

// keySet remembers the keys migrate copied, with their expiry, for the
// final check. Store keys of the usual shape (64 lowercase hex digits)
// take 40 bytes each, so millions fit in memory; any other key is kept as
// it is. It is not safe for concurrent use.
type keySet struct {
	packed []packedKey
	other  []otherKey
}

type packedKey struct {
	sum     [32]byte
	expires int64 // Unix seconds
}

type otherKey struct {
	key     string
	expires int64
}

func (s *keySet) add(key string, expires time.Time) {
	exp := expires.Unix()
	if session.ValidStoreKey(key) {
		var p packedKey
		if _, err := hex.Decode(p.sum[:], []byte(key)); err == nil {
			p.expires = exp
			s.packed = append(s.packed, p)
			return
		}
	}
	s.other = append(s.other, otherKey{key, exp})
}

func (s *keySet) len() int { return len(s.packed) + len(s.other) }

// each calls fn for every key until fn returns an error.
func (s *keySet) each(fn func(key string, expires int64) error) error {
	for _, p := range s.packed {
		if err := fn(hex.EncodeToString(p.sum[:]), p.expires); err != nil {
			return err
		}
	}
	for _, o := range s.other {
		if err := fn(o.key, o.expires); err != nil {
			return err
		}
	}
	return nil
}
