package storeconfig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session/redisstore"
)

// QuietRedis drops go-redis's own log lines (one per failed dial, from
// its connection pool) for the whole process: the demo server and the
// sessionctl tool report a Redis error once, on one line. Call it from
// main.
func QuietRedis() { redis.SetLogger(discardLogger{}) }

// discardLogger drops go-redis's log lines.
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// prefixParam is the query parameter of a redis URL that sets
// redisstore.Options.Prefix, for applications that changed it:
// "redis://127.0.0.1:6379/0?prefix=myapp:". The other parameters are
// go-redis's own.
const prefixParam = "prefix"

// redisPingTimeout bounds how long opening a Redis store waits for the
// server to answer, so that an unreachable server is reported at once.
const redisPingTimeout = 5 * time.Second

// redisOptions splits a redis URL into go-redis's options and the store's
// key prefix ("" for the default).
func redisOptions(raw string) (*redis.Options, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", err
	}
	q := u.Query()
	prefix := q.Get(prefixParam)
	q.Del(prefixParam)
	u.RawQuery = q.Encode()
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", err
	}
	// Let go-redis itself honour context deadlines on socket reads, so the
	// store needs no goroutine per call to return on time.
	o.ContextTimeoutEnabled = true
	return o, prefix, nil
}

// openRedis connects to the Redis server of s.URL and checks that it
// answers. Closing the Opened closes the store and its client.
func openRedis(s Spec, _ *OpenOptions) (*Opened, error) {
	ro, prefix, err := redisOptions(s.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	client := redis.NewClient(ro)
	ctx, cancel := context.WithTimeout(context.Background(), redisPingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", ro.Addr, err)
	}
	st, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		client.Close()
		return nil, err
	}
	return &Opened{
		Store: st,
		Where: fmt.Sprintf("Redis at %s, database %d", ro.Addr, ro.DB),
		close: func() error { return errors.Join(st.Close(), client.Close()) },
	}, nil
}
