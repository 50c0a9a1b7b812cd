package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/redisstore"
	"github.com/sessionkv/session/redisstore/redistest"
	"github.com/sessionkv/session/storetest"
)

var prefixes atomic.Int64

// uniquePrefix returns a key prefix no other store in this test binary
// uses, so that stores sharing a server start empty.
func uniquePrefix() string { return fmt.Sprintf("test%d:", prefixes.Add(1)) }

// fakeClock is a clock tests move forward instead of sleeping.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

func newStore(tb testing.TB, c redis.UniversalClient, o *redisstore.Options) *redisstore.Store {
	tb.Helper()
	if o == nil {
		o = &redisstore.Options{}
	}
	if o.Prefix == "" {
		o.Prefix = uniquePrefix()
	}
	s, err := redisstore.New(c, o)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newEngine returns an engine on store that logs nothing, closed by
// tb.Cleanup.
func newEngine(tb testing.TB, store session.Store) *session.Engine {
	tb.Helper()
	opts := session.DefaultOptions()
	opts.Logger = slog.New(slog.DiscardHandler)
	e, err := session.New(store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

func ctx(t *testing.T) context.Context { return t.Context() }

func live() time.Time { return time.Now().Add(time.Hour) }

func TestConformance_Standalone(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	unguarded := srv.NewClient(t, func(o *redis.Options) { o.ContextTimeoutEnabled = false })
	t.Run("SingleSlot", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := newStore(t, client, nil)
			if !redisstore.SingleSlot(s) || redisstore.Guarded(s) {
				t.Fatal("a *redis.Client with ContextTimeoutEnabled must give a single-slot, unguarded store")
			}
			return s
		})
	})
	t.Run("SplitMode", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := newStore(t, client, nil)
			redisstore.SetSplitMode(s)
			return s
		})
	})
	t.Run("WithoutContextTimeout", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := newStore(t, unguarded, nil)
			if !redisstore.Guarded(s) {
				t.Fatal("a client without ContextTimeoutEnabled must give a guarded store")
			}
			return s
		})
	})
}

func TestConformance_Cluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := cluster.NewClient(t, nil)
	t.Run("SplitMode", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := newStore(t, client, nil)
			if redisstore.SingleSlot(s) {
				t.Fatal("a ClusterClient without a hash tag must give a split-mode store")
			}
			return s
		})
	})
	t.Run("HashTagPrefix", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			s := newStore(t, client, &redisstore.Options{Prefix: "{" + uniquePrefix() + "}"})
			if !redisstore.SingleSlot(s) {
				t.Fatal("a hash-tagged prefix must give a single-slot store")
			}
			return s
		})
	})
	t.Run("ConcurrentIncrements", func(t *testing.T) {
		testConcurrentIncrements(t, client, cluster.NewClient(t, nil))
	})
	t.Run("RangeCoversEveryPrimary", func(t *testing.T) {
		prefix := uniquePrefix()
		s := newStore(t, client, &redisstore.Options{Prefix: prefix})
		want := map[string]bool{}
		for i := range 300 {
			k := storetest.Key(fmt.Sprint("spread-", i))
			want[k] = true
			if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live()}); err != nil {
				t.Fatal(err)
			}
		}
		// The keys are spread over every primary.
		for _, node := range cluster.Nodes {
			keys, _, err := node.NewClient(t, nil).Scan(ctx(t), 0, prefix+"*", 10000).Result()
			if err != nil || len(keys) == 0 {
				t.Fatalf("node %s holds %d of the keys (%v): they are not spread", node.Addr(), len(keys), err)
			}
		}
		got := 0
		err := s.Range(ctx(t), func(key string, _ session.Record) bool {
			if !want[key] {
				t.Errorf("Range yielded unknown key %s", key)
			}
			got++
			return true
		})
		if err != nil || got != len(want) {
			t.Fatalf("Range yielded %d of %d keys, err %v", got, len(want), err)
		}
	})
}

// TestUpdate_ConcurrentIncrements runs 8 goroutines × 100 increments
// through UpdateRecord, spread over two stores with their own clients (as two
// processes would be): every increment must count.
func TestUpdate_ConcurrentIncrements(t *testing.T) {
	srv := redistest.Start(t)
	testConcurrentIncrements(t, srv.NewClient(t, nil), srv.NewClient(t, nil))
}

func testConcurrentIncrements(t *testing.T, c1, c2 redis.UniversalClient) {
	const workers, each = 8, 100
	prefix := uniquePrefix()
	stores := []*redisstore.Store{
		newStore(t, c1, &redisstore.Options{Prefix: prefix}),
		newStore(t, c2, &redisstore.Options{Prefix: prefix}),
	}
	k := storetest.Key("counter")
	if err := stores[0].Save(ctx(t), k, session.Record{Data: []byte("0"), Expires: live(), UserID: "counter-owner"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for range each {
				err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
					if !found {
						return session.Record{}, errors.New("counter vanished")
					}
					n, err := strconv.Atoi(string(cur.Data))
					if err != nil {
						return session.Record{}, err
					}
					cur.Data = []byte(strconv.Itoa(n + 1))
					return cur, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rec, err := stores[1].Load(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Data) != strconv.Itoa(workers*each) || rec.UserID != "counter-owner" {
		t.Errorf("counter = %s (owner %q), want %d: Update is not atomic", rec.Data, rec.UserID, workers*each)
	}
	keys, err := stores[0].UserKeys(ctx(t), "counter-owner")
	if err != nil || !slices.Equal(keys, []string{k}) {
		t.Errorf("UserKeys = %v, %v; want the counter's key", keys, err)
	}
}

func TestUpdate_ErrorReturnedUnchangedAndNoResurrection(t *testing.T) {
	srv := redistest.Start(t)
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			s := newStore(t, srv.NewClient(t, nil), nil)
			if split {
				redisstore.SetSplitMode(s)
			}
			k := storetest.Key("logout")
			if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live(), UserID: "u"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx(t), k); err != nil {
				t.Fatal(err)
			}
			calls := 0
			err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
				calls++
				if !found {
					return session.Record{}, session.ErrSessionInterrupted
				}
				return session.Record{Data: []byte("resurrected"), Expires: live(), UserID: "u"}, nil
			})
			if err != session.ErrSessionInterrupted || calls != 1 {
				t.Fatalf("Update = %v after %d calls; want ErrSessionInterrupted itself after 1", err, calls)
			}
			if _, err := s.Load(ctx(t), k); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("deleted session came back: %v", err)
			}
			if keys, _ := s.UserKeys(ctx(t), "u"); len(keys) != 0 {
				t.Fatalf("UserKeys = %v after the delete", keys)
			}
		})
	}
}

// sharedStores returns two stores with one prefix on client: s with
// MaxAttempts maxAttempts, and other, a second writer of the same records.
func sharedStores(t *testing.T, client redis.UniversalClient, maxAttempts int) (s, other *redisstore.Store) {
	prefix := uniquePrefix()
	s = newStore(t, client, &redisstore.Options{Prefix: prefix, MaxAttempts: maxAttempts})
	other = newStore(t, client, &redisstore.Options{Prefix: prefix})
	return s, other
}

// TestUpdate_GivesUpWithErrConflict makes every attempt conflict: the
// function itself changes the record behind UpdateRecord's back.
func TestUpdate_GivesUpWithErrConflict(t *testing.T) {
	s, other := sharedStores(t, redistest.Start(t).NewClient(t, nil), 3)
	k := storetest.Key("contended")
	if err := s.Save(ctx(t), k, session.Record{Data: []byte("0"), Expires: live()}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		calls++
		if err := other.Save(ctx(t), k, session.Record{Data: []byte(fmt.Sprint("other-", calls)), Expires: live()}); err != nil {
			return session.Record{}, err
		}
		return session.Record{Data: []byte("mine"), Expires: live()}, nil
	})
	if !errors.Is(err, redisstore.ErrConflict) || calls != 3 {
		t.Fatalf("Update = %v after %d calls; want ErrConflict after 3", err, calls)
	}
	rec, err := s.Load(ctx(t), k)
	if err != nil || string(rec.Data) != "other-3" {
		t.Fatalf("record = %q, %v; want the other writer's last value", rec.Data, err)
	}
}

func TestSave_RedisExpiresTheKey(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	prefix := uniquePrefix()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix})
	k := storetest.Key("ttl")
	exp := time.Now().Add(90 * time.Minute)
	if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	at, err := client.PExpireTime(ctx(t), prefix+"s:"+k).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(exp.UnixMilli()) * time.Millisecond; at != want {
		t.Errorf("PEXPIRETIME = %v, want %v (the record's Expires, to the millisecond)", at, want)
	}
	// Saving an expired record deletes the key instead of storing it.
	if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx(t), prefix+"s:"+k).Result(); n != 0 {
		t.Errorf("an expired record was stored")
	}
	// A short expiry is enforced by Redis itself.
	if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: time.Now().Add(50 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, _ := client.Exists(ctx(t), prefix+"s:"+k).Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis did not expire the record")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLoad_ForeignValueIsCorruptAndNotFound(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	prefix := uniquePrefix()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix})
	k := storetest.Key("foreign")
	for _, v := range []string{"", "x", "\x01short", "\x02" + string(make([]byte, 30)), "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"} {
		if err := client.Set(ctx(t), prefix+"s:"+k, v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctx(t), k)
		if !errors.Is(err, session.ErrNotFound) || !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("Load(%q) = %v; want ErrNotFound and ErrCorrupt", v, err)
		}
		n := 0
		if err := s.Range(ctx(t), func(string, session.Record) bool { n++; return true }); err != nil || n != 0 {
			t.Errorf("Range over %q: %d records, %v", v, n, err)
		}
		err = s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
			if found {
				t.Errorf("Update saw %q as a record", v)
			}
			return session.Record{Data: []byte("fresh"), Expires: live(), UserID: "owner"}, nil
		})
		if err != nil {
			t.Fatalf("Update over %q: %v", v, err)
		}
		if rec, err := s.Load(ctx(t), k); err != nil || string(rec.Data) != "fresh" {
			t.Fatalf("after Update over %q: %q, %v", v, rec.Data, err)
		}
		if err := s.Delete(ctx(t), k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUserIndex_SingleSlotIsExact checks that, in single-slot mode, the
// index hash holds exactly the owned records after every write.
func TestUserIndex_SingleSlotIsExact(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	prefix := uniquePrefix()
	s := newStore(t, client, &redisstore.Options{Prefix: prefix})
	members := func(uid string) []string {
		m, err := client.HKeys(ctx(t), prefix+"u:"+uid).Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(m)
		return m
	}
	a, b := storetest.Key("a"), storetest.Key("b")
	save := func(k, uid string) {
		t.Helper()
		if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live(), UserID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	save(a, "alice")
	save(b, "alice")
	if got := members("alice"); len(got) != 2 {
		t.Fatalf("alice's index = %v", got)
	}
	save(a, "bob") // owner change
	if got := members("alice"); !slices.Equal(got, []string{b}) {
		t.Errorf("after moving a: alice's index = %v", got)
	}
	if got := members("bob"); !slices.Equal(got, []string{a}) {
		t.Errorf("after moving a: bob's index = %v", got)
	}
	save(a, "") // anonymous
	if got := members("bob"); len(got) != 0 {
		t.Errorf("after making a anonymous: bob's index = %v", got)
	}
	if err := s.Delete(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx(t), prefix+"u:alice").Result(); n != 0 {
		t.Errorf("alice's empty index still exists")
	}
}

// TestUserIndex_SplitModePrunesOldClaims checks the split-mode reader rule:
// an entry whose record is gone stays while its claim is recent (a write it
// covers might still land) and is pruned once the claim is old.
func TestUserIndex_SplitModePrunesOldClaims(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	prefix := uniquePrefix()
	clock := &fakeClock{}
	s := newStore(t, client, &redisstore.Options{Prefix: prefix, Now: clock.Now})
	redisstore.SetSplitMode(s)
	gone, kept := storetest.Key("gone"), storetest.Key("kept")
	for _, k := range []string{gone, kept} {
		if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: time.Now().Add(24 * time.Hour), UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx(t), gone); err != nil {
		t.Fatal(err)
	}
	ik := prefix + "u:carol"
	if keys, err := s.UserKeys(ctx(t), "carol"); err != nil || !slices.Equal(keys, []string{kept}) {
		t.Fatalf("UserKeys = %v, %v", keys, err)
	}
	if ok, _ := client.HExists(ctx(t), ik, gone).Result(); !ok {
		t.Fatal("a recent claim was pruned")
	}
	clock.Advance(2*redisstore.ClaimWindow + time.Second)
	if keys, err := s.UserKeys(ctx(t), "carol"); err != nil || !slices.Equal(keys, []string{kept}) {
		t.Fatalf("UserKeys later = %v, %v", keys, err)
	}
	if ok, _ := client.HExists(ctx(t), ik, gone).Result(); ok {
		t.Error("an old claim of a deleted record was not pruned")
	}
	if ok, _ := client.HExists(ctx(t), ik, kept).Result(); !ok {
		t.Error("the entry of a live record was pruned")
	}
}

// TestUserIndex_ExpiryCoversLongestRecord checks that the index outlives
// the longest-lived of its records, in both modes.
func TestUserIndex_ExpiryCoversLongestRecord(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			prefix := uniquePrefix()
			s := newStore(t, client, &redisstore.Options{Prefix: prefix})
			if split {
				redisstore.SetSplitMode(s)
			}
			long := time.Now().Add(48 * time.Hour)
			recs := []struct {
				name string
				exp  time.Time
			}{{"short", time.Now().Add(time.Hour)}, {"long", long}, {"short", time.Now().Add(2 * time.Hour)}}
			for _, r := range recs {
				if err := s.Save(ctx(t), storetest.Key(r.name), session.Record{Data: []byte("x"), Expires: r.exp, UserID: "dave"}); err != nil {
					t.Fatal(err)
				}
			}
			at, err := client.PExpireTime(ctx(t), prefix+"u:dave").Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := time.Duration(long.UnixMilli()) * time.Millisecond; at < want {
				t.Errorf("index expires at %v, before its longest record (%v)", at, want)
			}
		})
	}
}

// TestContext_DeadlineWhenRedisHangs freezes the server: every call must
// return by its context's deadline, whether or not the client has
// ContextTimeoutEnabled, and work again once the server is back.
func TestContext_DeadlineWhenRedisHangs(t *testing.T) {
	srv := redistest.Start(t)
	clients := map[string]*redis.Client{
		"ContextTimeoutEnabled": srv.NewClient(t, nil),
		"Guarded": srv.NewClient(t, func(o *redis.Options) {
			o.ContextTimeoutEnabled = false
			o.ReadTimeout = 10 * time.Second
			o.WriteTimeout = 10 * time.Second
		}),
	}
	k := storetest.Key("hang")
	stores := map[string]*redisstore.Store{}
	for name, c := range clients {
		stores[name] = newStore(t, c, nil)
		if err := stores[name].Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live(), UserID: "eve"}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Pause(t)
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	ops := map[string]func(context.Context, *redisstore.Store) error{
		"Load": func(c context.Context, s *redisstore.Store) error { _, err := s.Load(c, k); return err },
		"Save": func(c context.Context, s *redisstore.Store) error {
			return s.Save(c, k, session.Record{Data: []byte("y"), Expires: live()})
		},
		"Update": func(c context.Context, s *redisstore.Store) error {
			return s.UpdateRecord(c, k, func(cur session.Record, _ bool) (session.Record, error) { return cur, nil })
		},
		"Delete":   func(c context.Context, s *redisstore.Store) error { return s.Delete(c, k) },
		"UserKeys": func(c context.Context, s *redisstore.Store) error { _, err := s.UserKeys(c, "eve"); return err },
		"Range": func(c context.Context, s *redisstore.Store) error {
			return s.Range(c, func(string, session.Record) bool { return true })
		},
	}
	var wg sync.WaitGroup
	for sname, s := range stores {
		for oname, op := range ops {
			wg.Go(func() {
				c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				start := time.Now()
				err := op(c, s)
				if elapsed := time.Since(start); err == nil || elapsed > time.Second {
					t.Errorf("%s/%s against a hung server: %v after %v; want an error within the deadline", sname, oname, err, elapsed)
				}
			})
		}
	}
	wg.Wait()
	srv.Resume()
	resumed = true
	for name, s := range stores {
		c, cancel := context.WithTimeout(ctx(t), 5*time.Second)
		if _, err := s.Load(c, k); err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Load after the server resumed: %v", name, err)
		}
		cancel()
	}
}

func TestNew_Options(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	if _, err := redisstore.New(nil, nil); err == nil {
		t.Error("New(nil client) succeeded")
	}
	if _, err := redisstore.New(c, &redisstore.Options{MaxAttempts: -1}); err == nil {
		t.Error("New with negative MaxAttempts succeeded")
	}
	s, err := redisstore.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: calls fail, quickly and without panicking.
	c2, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Load(c2, storetest.Key("x")); err == nil || errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load without a server = %v, want a connection error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Save(c2, storetest.Key("x"), session.Record{Expires: live()}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close = %v, want ErrClosed", err)
	}
	if err := c.Ping(c2).Err(); errors.Is(err, redis.ErrClosed) {
		t.Error("Close closed the caller's client")
	}
}

func TestSave_RejectsLongUserID(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s := newStore(t, c, nil)
	err := s.Save(ctx(t), storetest.Key("x"), session.Record{Expires: live(), UserID: string(bytes.Repeat([]byte("u"), 2000))})
	if !errors.Is(err, session.ErrUserIDTooLong) {
		t.Errorf("Save with a 2000-byte user ID = %v, want ErrUserIDTooLong", err)
	}
}

// commandCounter counts the commands a client sends, by name.
type commandCounter struct {
	mu    sync.Mutex
	names map[string]int
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names[cmd.Name()]++
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// take returns the counts so far and starts again from zero.
func (c *commandCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = map[string]int{}
	return n
}

// countingClient returns a client of a new server and the counter of the
// commands it sends.
func countingClient(t *testing.T) (*redis.Client, *commandCounter) {
	client := redistest.Start(t).NewClient(t, nil)
	counter := &commandCounter{names: map[string]int{}}
	client.AddHook(counter)
	return client, counter
}

// saveAndLoad saves data under k through s, then loads it, which leaves s
// a guess for k's next UpdateRecord.
func saveAndLoad(t *testing.T, s *redisstore.Store, k, data string) session.Record {
	t.Helper()
	if err := s.Save(ctx(t), k, session.Record{Data: []byte(data), Expires: live()}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load(ctx(t), k)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestUpdate_AfterLoadSkipsTheRead(t *testing.T) {
	client, counter := countingClient(t)
	s := newStore(t, client, nil)
	k := storetest.Key("guessed")
	loaded := saveAndLoad(t, s, k, "v1")
	counter.take()
	calls := 0
	err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		calls++
		if !found || !bytes.Equal(cur.Data, loaded.Data) {
			t.Errorf("fn got %q, %v; want the loaded %q", cur.Data, found, loaded.Data)
		}
		return session.Record{Data: append(bytes.Clone(cur.Data), "+v2"...), Expires: live()}, nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("Update = %v after %d calls", err, calls)
	}
	sent := counter.take()
	if sent["get"] != 0 || sent["evalsha"]+sent["eval"] != 1 {
		t.Errorf("Update after Load sent %v; want the compare-and-set alone", sent)
	}
	// The guess is used once: the next UpdateRecord reads again.
	err = s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		return session.Record{Data: append(bytes.Clone(cur.Data), "+v3"...), Expires: live()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent := counter.take(); sent["get"] != 1 {
		t.Errorf("second Update sent %v; want a read first", sent)
	}
	if rec, err := s.Load(ctx(t), k); err != nil || string(rec.Data) != "v1+v2+v3" {
		t.Fatalf("record = %q, %v; want v1+v2+v3", rec.Data, err)
	}
}

func TestUpdate_StaleGuessIsCaughtAndFree(t *testing.T) {
	// One attempt: a wrong guess must not use it up.
	s, other := sharedStores(t, redistest.Start(t).NewClient(t, nil), 1)
	k := storetest.Key("stale-guess")
	saveAndLoad(t, s, k, "v1")
	if err := other.Save(ctx(t), k, session.Record{Data: []byte("other"), Expires: live()}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		seen = append(seen, string(cur.Data))
		return session.Record{Data: append(bytes.Clone(cur.Data), "+mine"...), Expires: live()}, nil
	})
	if err != nil || !slices.Equal(seen, []string{"v1", "other"}) {
		t.Fatalf("Update = %v, fn saw %q; want success after seeing v1 then other", err, seen)
	}
	if rec, err := s.Load(ctx(t), k); err != nil || string(rec.Data) != "other+mine" {
		t.Fatalf("record = %q, %v; want other+mine", rec.Data, err)
	}

	// An error fn returns for a stale guess is not the answer. (The check
	// Load above left a guess of other+mine.)
	if err := other.Save(ctx(t), k, session.Record{Data: []byte("fine"), Expires: live()}); err != nil {
		t.Fatal(err)
	}
	seen = nil
	errStale := errors.New("refused other+mine")
	err = s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		seen = append(seen, string(cur.Data))
		if string(cur.Data) == "other+mine" {
			return session.Record{}, errStale
		}
		return cur, nil
	})
	if err != nil || !slices.Equal(seen, []string{"other+mine", "fine"}) {
		t.Fatalf("Update = %v, fn saw %q; want success after seeing other+mine then fine", err, seen)
	}

	// ... but one it returns for a right guess is.
	if _, err := s.Load(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	seen = nil
	err = s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		seen = append(seen, string(cur.Data))
		return session.Record{}, errStale
	})
	if !errors.Is(err, errStale) || !slices.Equal(seen, []string{"fine"}) {
		t.Fatalf("Update = %v, fn saw %q; want errStale after one call", err, seen)
	}

	// Deleted in between: the guess fails and fn ends on no record.
	if _, err := s.Load(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	var founds []bool
	err = s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		founds = append(founds, found)
		return cur, nil
	})
	if err != nil || !slices.Equal(founds, []bool{true, false}) {
		t.Fatalf("Update of a deleted session = %v, found per call %v; want nil, [true false]", err, founds)
	}
	if _, err := s.Load(ctx(t), k); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("deleted session after Update = %v; want ErrNotFound", err)
	}
}

func TestUpdate_GuessIsNotTheLoadedSlice(t *testing.T) {
	client, counter := countingClient(t)
	s := newStore(t, client, nil)
	k := storetest.Key("private-guess")
	rec := saveAndLoad(t, s, k, "intact")
	copy(rec.Data, "XXXXXX") // a caller scribbling on what it loaded
	counter.take()
	err := s.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		if string(cur.Data) != "intact" {
			t.Errorf("fn got %q; want intact", cur.Data)
		}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent := counter.take(); sent["get"] != 0 {
		t.Errorf("Update sent %v; want the guess used, not a read", sent)
	}
}

func TestUpdate_SplitModeClaimsOnlyForAConfirmedGuess(t *testing.T) {
	client, counter := countingClient(t)
	s, other := sharedStores(t, client, 0)
	redisstore.SetSplitMode(s)
	redisstore.SetSplitMode(other)
	login := func(cur session.Record, found bool) (session.Record, error) {
		if !found {
			return session.Record{}, session.ErrSessionInterrupted
		}
		return session.Record{Data: cur.Data, Expires: live(), UserID: "dave"}, nil
	}

	// The session is deleted between Load and UpdateRecord: no claim for dave.
	k := storetest.Key("split-stale")
	saveAndLoad(t, s, k, "v1")
	if err := other.Delete(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRecord(ctx(t), k, login); !errors.Is(err, session.ErrSessionInterrupted) {
		t.Fatalf("Update of a deleted session = %v; want ErrSessionInterrupted", err)
	}
	if n, err := client.HLen(ctx(t), redisstore.Prefix(s)+"u:dave").Result(); err != nil || n != 0 {
		t.Fatalf("dave's index holds %d entries (%v); want none", n, err)
	}

	// A right guess: confirmed by one read, then claim and write.
	k = storetest.Key("split-right")
	saveAndLoad(t, s, k, "v1")
	counter.take()
	if err := s.UpdateRecord(ctx(t), k, login); err != nil {
		t.Fatal(err)
	}
	if sent := counter.take(); sent["get"] != 1 {
		t.Errorf("Update sent %v; want one read to confirm the guess", sent)
	}
	keys, err := s.UserKeys(ctx(t), "dave")
	if err != nil || !slices.Equal(keys, []string{k}) {
		t.Fatalf("UserKeys(dave) = %v, %v; want [%s]", keys, err, k)
	}
}

// TestEngine_CommitKeepsUntouchedBytes checks that a request which changes
// one key of a session in Redis writes the others back as they were
// stored (here encoded as the engine never encodes them), without decoding
// and encoding them again.
func TestEngine_CommitKeepsUntouchedBytes(t *testing.T) {
	srv := redistest.Start(t)
	store := newStore(t, srv.NewClient(t, nil), nil)
	e := newEngine(t, store)
	n := []byte{0xa1, 'n', 0xd3, 0, 0, 0, 0, 0, 0, 0, 5}
	s := []byte{0xa1, 's', 0xda, 0, 3, 'a', 'b', 'c'}
	data := append(append([]byte{1, 0, 0x82}, n...), s...) // envelope, then the map
	id := session.DefaultIDs.NewID()
	if err := store.Save(ctx(t), session.StoreKey(id), session.Record{Data: data, Expires: live()}); err != nil {
		t.Fatal(err)
	}
	sess, err := e.Load(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	sess.Set("after", true)
	if err := e.Save(ctx(t), sess); err != nil {
		t.Fatal(err)
	}
	rec, err := store.Load(ctx(t), session.StoreKey(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{n, s} {
		if !bytes.Contains(rec.Data, p) {
			t.Errorf("the untouched entry % x was encoded again: % x", p, rec.Data)
		}
	}
}
