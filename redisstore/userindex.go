package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipelineBatch bounds the commands sent in one pipeline and the index
// entries pruned by one script call.
const pipelineBatch = 512

// UserKeys implements session.UserIndexer: one read of the user's index,
// one pipelined read of the first bytes of each record it lists, and the
// removal of stale entries (see the package documentation for when an entry
// is stale). It returns nothing for uid "": anonymous records are not
// indexed.
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	if uid == "" {
		return nil, nil
	}
	live, err := s.readUser(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("redisstore: user keys: %w", err)
	}
	keys := make([]string, len(live))
	for i, o := range live {
		keys[i] = o.key
	}
	return keys, nil
}

// DeleteUser implements session.UserIndexer. It deletes each record that
// UserKeys would return, provided it has not changed since it was read (a
// record changed meanwhile is read again, and deleted if it is still the
// user's), and returns how many it deleted.
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if uid == "" {
		return 0, nil
	}
	live, err := s.readUser(ctx, uid)
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete user: %w", err)
	}
	n := 0
	for _, o := range live {
		deleted, err := s.deleteOwned(ctx, uid, o)
		if err != nil {
			return n, fmt.Errorf("redisstore: delete user: %w", err)
		}
		if deleted {
			n++
		}
	}
	return n, nil
}

// owned is a live record of a user, and the write ID it had when read.
type owned struct {
	key string
	id  string
}

// deleteOwned deletes o's record if it is still uid's, and reports whether
// it did.
func (s *Store) deleteOwned(ctx context.Context, uid string, o owned) (bool, error) {
	w := &write{store: s, key: o.key, check: 't', expected: o.id, oldOwner: uid}
	for attempt := 1; ; attempt++ {
		res, err := w.run(ctx)
		if err != nil {
			return false, err
		}
		if res.ok {
			return true, nil
		}
		if !liveRecordOf(uid, res.current, s.now()) {
			return false, nil // gone, or no longer this user's
		}
		if attempt >= s.maxAttempt {
			return false, fmt.Errorf("%w (%d attempts)", ErrConflict, attempt)
		}
		w.expected = writeID(res.current)
	}
}

// liveRecordOf reports whether v, a stored value or its first bytes, is a
// record of uid that is live at now.
func liveRecordOf(uid string, v []byte, now time.Time) bool {
	h, ok := parseHeader(v)
	return ok && string(h.userID) == uid && time.UnixMilli(h.expires).After(now)
}

// readUser returns uid's live records according to its index, and prunes the
// index entries that are stale: in single-slot mode those whose record is not
// a live record of uid; in split mode only those whose claim is also older
// than twice the claim window, as of before the records were read.
func (s *Store) readUser(ctx context.Context, uid string) ([]owned, error) {
	asOf := s.now().UnixMilli()
	ik := s.indexKey(uid)
	entries, err := call(s, ctx, func(ctx context.Context) (map[string]string, error) {
		return s.client.HGetAll(ctx, ik).Result()
	})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	members := make([]string, 0, len(entries))
	for m := range entries {
		members = append(members, m)
	}
	heads, err := s.heads(ctx, members, headerLen+len(uid))
	if err != nil {
		return nil, err
	}
	now := s.now()
	var live []owned
	var stale []any
	for i, m := range members {
		if liveRecordOf(uid, heads[i], now) {
			live = append(live, owned{key: m, id: writeID(heads[i])})
			continue
		}
		claimedAt, valid := entryClaimedAt(entries[m])
		if s.singleSlot || !valid || claimedAt+2*claimWindow.Milliseconds() < asOf {
			stale = append(stale, m, entries[m])
		}
	}
	s.prune(ctx, ik, stale)
	return live, nil
}

// heads returns the first n bytes of the record of each store key (empty
// for a missing one).
func (s *Store) heads(ctx context.Context, keys []string, n int) ([][]byte, error) {
	return s.readEach(ctx, keys, func(ctx context.Context, p redis.Pipeliner, k string) *redis.StringCmd {
		return p.GetRange(ctx, s.recordKey(k), 0, int64(n-1))
	})
}

// prune removes the given member, entry pairs from the index ik, each only
// if it is unchanged. It is best effort: an entry left behind is skipped by
// readers and pruned next time.
func (s *Store) prune(ctx context.Context, ik string, pairs []any) {
	for start := 0; start < len(pairs); start += 2 * pipelineBatch {
		if ctx.Err() != nil {
			return
		}
		batch := pairs[start:min(start+2*pipelineBatch, len(pairs))]
		_, _ = call(s, ctx, func(ctx context.Context) (any, error) {
			return pruneScript.Run(ctx, s.client, []string{ik}, batch...).Result()
		})
	}
}
