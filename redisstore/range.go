package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
)

// scanCount is the COUNT hint of each SCAN call.
const scanCount = 512

// scanner is the part of a go-redis client that Range uses on each node.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

// Range implements session.Ranger with SCAN on each primary (each shard of
// a Ring), one after another, and pipelined reads of the records found. A
// key SCAN returns twice is yielded once. Values under the prefix that are
// not records of this store are skipped.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	nodes, err := s.nodes(ctx)
	if err != nil {
		return fmt.Errorf("redisstore: range: %w", err)
	}
	recPrefix := s.prefix + "s:"
	match := escapeGlob(recPrefix) + "*"
	seen := make(map[string]struct{})
	for _, node := range nodes {
		var cursor uint64
		for {
			if err := s.closed.Check(ctx); err != nil {
				return err
			}
			type page struct {
				keys []string
				next uint64
			}
			p, err := call(s, ctx, func(ctx context.Context) (page, error) {
				keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
				return page{keys, next}, err
			})
			if err != nil {
				return fmt.Errorf("redisstore: range: %w", err)
			}
			vals, err := s.values(ctx, p.keys)
			if err != nil {
				return fmt.Errorf("redisstore: range: %w", err)
			}
			now := s.now()
			for i, k := range p.keys {
				key, ok := strings.CutPrefix(k, recPrefix)
				if !ok {
					continue
				}
				if _, dup := seen[key]; dup {
					continue
				}
				seen[key] = struct{}{}
				rec, ok := decodeValue(vals[i])
				if !ok || rec.Expired(now) {
					continue
				}
				if !fn(key, rec) {
					return nil
				}
			}
			if p.next == 0 {
				break
			}
			cursor = p.next
		}
	}
	return nil
}

// nodes returns what to SCAN: every primary of a Cluster, every live shard of
// a Ring, or the client itself.
func (s *Store) nodes(ctx context.Context) ([]scanner, error) {
	var each func(context.Context, func(context.Context, *redis.Client) error) error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		each = c.ForEachMaster
	case *redis.Ring:
		each = c.ForEachShard
	default:
		return []scanner{s.client}, nil
	}
	return call(s, ctx, func(ctx context.Context) ([]scanner, error) {
		var mu sync.Mutex
		var nodes []scanner
		err := each(ctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			nodes = append(nodes, c)
			mu.Unlock()
			return nil
		})
		return nodes, err
	})
}

// values returns the values of keys (nil for a missing one).
func (s *Store) values(ctx context.Context, keys []string) ([][]byte, error) {
	return s.readEach(ctx, keys, func(ctx context.Context, p redis.Pipeliner, k string) *redis.StringCmd {
		return p.Get(ctx, k)
	})
}

// readEach sends the read that cmd makes of each key, in one pipeline per
// pipelineBatch keys, and returns the replies in order, nil for a missing
// key. In a Cluster, go-redis sends each node its share.
func (s *Store) readEach(ctx context.Context, keys []string,
	cmd func(context.Context, redis.Pipeliner, string) *redis.StringCmd,
) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	return call(s, ctx, func(ctx context.Context) ([][]byte, error) {
		out := make([][]byte, 0, len(keys))
		for start := 0; start < len(keys); start += pipelineBatch {
			batch := keys[start:min(start+pipelineBatch, len(keys))]
			cmds := make([]*redis.StringCmd, len(batch))
			_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range batch {
					cmds[i] = cmd(ctx, p, k)
				}
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
			for _, c := range cmds {
				v, err := c.Bytes()
				switch {
				case errors.Is(err, redis.Nil):
					out = append(out, nil)
				case err != nil:
					return nil, err
				default:
					out = append(out, v)
				}
			}
		}
		return out, nil
	})
}

// escapeGlob escapes the characters SCAN's MATCH pattern treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := range len(s) {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
