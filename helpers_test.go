package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session/internal/testkit"
)

// newClock returns the fake time source an engine and its store share.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

type testEnv struct {
	engine *Engine
	store  *mapStore
	clock  *testkit.Clock
	logs   *testkit.LogBuffer
}

// newEnv returns an engine on a mapStore sharing a fake clock; edit changes
// the options before New.
func newEnv(t testing.TB, edit func(*Options)) *testEnv {
	t.Helper()
	c := newClock()
	st := newMapStore(c.Now)
	logs := &testkit.LogBuffer{}
	opts := DefaultOptions()
	opts.Now = c.Now
	opts.SweepInterval = -1
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if edit != nil {
		edit(opts)
	}
	e, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &testEnv{engine: e, store: st, clock: c, logs: logs}
}

// saved returns a stored session holding values, and its ID.
func (env *testEnv) saved(t testing.TB, values map[string]any) string {
	t.Helper()
	s, err := env.engine.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	s.Update(values)
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID()
}

func (env *testEnv) load(t testing.TB, id string) *Session {
	t.Helper()
	s, err := env.engine.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mapStore is a minimal Store and Updater for the root package's tests (the
// real stores import this package, so they cannot be used here). It counts
// calls so tests can check what touched the store.
type mapStore struct {
	mu    sync.Mutex
	now   func() time.Time
	m     map[string]Record
	calls int
	fail  error // when set, every call returns it
}

func newMapStore(now func() time.Time) *mapStore {
	return &mapStore{now: now, m: map[string]Record{}}
}

func (s *mapStore) begin(ctx context.Context) error {
	s.calls++
	if s.fail != nil {
		return s.fail
	}
	return ctx.Err()
}

func (s *mapStore) Load(ctx context.Context, key string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return Record{}, err
	}
	rec, ok := s.m[key]
	if !ok || rec.Expired(s.now()) {
		return Record{}, ErrNotFound
	}
	rec.Data = bytes.Clone(rec.Data)
	return rec, nil
}

func (s *mapStore) LoadAppend(ctx context.Context, key string, dst []byte) (Record, error) {
	rec, err := s.Load(ctx, key)
	rec.Data = append(dst, rec.Data...)
	return rec, err
}

func (s *mapStore) Save(ctx context.Context, key string, rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	rec.Data = bytes.Clone(rec.Data)
	s.m[key] = rec
	return nil
}

func (s *mapStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	delete(s.m, key)
	return nil
}

func (s *mapStore) UpdateRecord(ctx context.Context, key string, fn UpdateFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(ctx); err != nil {
		return err
	}
	cur, ok := s.m[key]
	if ok && cur.Expired(s.now()) {
		cur, ok = Record{}, false
	}
	next, err := fn(cur, ok)
	if err != nil {
		return err
	}
	next.Data = bytes.Clone(next.Data)
	s.m[key] = next
	return nil
}

// Len returns the number of records, expired ones included.
func (s *mapStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Calls returns how many store calls were made.
func (s *mapStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// SetFail makes every later call fail with err (nil restores).
func (s *mapStore) SetFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

var errStoreDown = errors.New("store down")

// runtimeMem reads the cumulative bytes allocated by the process.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
