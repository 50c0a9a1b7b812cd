package cachestore_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
)

// newFakeClock starts at the real time, so that records made with the real
// clock (the engine's, the backing stores') agree with it.
func newFakeClock() *testkit.Clock { return testkit.NewClock(time.Now()) }

// textLogger returns a logger writing text lines to logs.
func textLogger(logs *testkit.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, nil))
}

// countingStore is a memstore that counts the loads that reach it and can
// be made to fail its writes.
type countingStore struct {
	*memstore.Store
	loads     atomic.Int64
	failWrite atomic.Bool
}

var errInjected = errors.New("injected write failure")

func newCountingStore(now func() time.Time) *countingStore {
	if now == nil {
		now = time.Now
	}
	return &countingStore{Store: memstore.NewWithClock(now)}
}

func (c *countingStore) Load(ctx context.Context, key string) (session.Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

func (c *countingStore) Save(ctx context.Context, key string, rec session.Record) error {
	if c.failWrite.Load() {
		return errInjected
	}
	return c.Store.Save(ctx, key, rec)
}

func (c *countingStore) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if c.failWrite.Load() {
		return errInjected
	}
	return c.Store.UpdateRecord(ctx, key, fn)
}

// bareStore hides every optional capability of the store it holds.
type bareStore struct{ session.Store }

// newCache wraps backing in a Store closed at the end of the test.
func newCache(t testing.TB, backing session.Store, opts *cachestore.Options) *cachestore.Store {
	t.Helper()
	s, err := cachestore.New(backing, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openBolt(t testing.TB, opts *boltstore.Options) *boltstore.Store {
	t.Helper()
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func openFiles(t testing.TB, dir string, opts *filestore.Options) *filestore.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := filestore.New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func live() time.Time { return time.Now().Add(time.Hour) }

func mustSave(t testing.TB, s session.Store, key string, rec session.Record) {
	t.Helper()
	if err := s.Save(context.Background(), key, rec); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustLoad(t testing.TB, s session.Store, key string) session.Record {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec
}

func wantNotFound(t testing.TB, s session.Store, key string) {
	t.Helper()
	if rec, err := s.Load(context.Background(), key); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load = %q, %v; want ErrNotFound", rec.Data, err)
	}
}
