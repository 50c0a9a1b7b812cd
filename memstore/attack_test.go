package memstore_test

// Tests of the memory store's context-aware write locks. Each reproduces an
// attack and checks that it fails.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// pausingCtx is a context whose first call to Done waits until release is
// closed: it stands for the scheduler pausing a goroutine between the
// store's closed check and its wait for the write lock.
type pausingCtx struct {
	context.Context
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newPausingCtx() *pausingCtx {
	return &pausingCtx{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (c *pausingCtx) Done() <-chan struct{} {
	c.once.Do(func() {
		close(c.entered)
		<-c.release
	})
	return c.Context.Done()
}

// TestStore_WriteAcrossCloseIsRefused: Save and UpdateRecord check that the store is
// open, then wait for the shard's write lock, and do not check again once
// they have it (the file store does). A write paused between the two while
// Close runs lands after Close has returned: Save reports success on a
// closed store, UpdateRecord runs its function after Close ("once the writes in
// progress ... are done"), and the records stay in memory, which Close
// promises to drop.
func TestStore_WriteAcrossCloseIsRefused(t *testing.T) {
	rec := session.Record{Data: []byte("late"), Expires: time.Now().Add(time.Hour), UserID: "u"}
	ops := map[string]func(s *memstore.Store, ctx context.Context) error{
		"Save": func(s *memstore.Store, ctx context.Context) error { return s.Save(ctx, storetest.Key("k"), rec) },
		"Update": func(s *memstore.Store, ctx context.Context) error {
			return s.UpdateRecord(ctx, storetest.Key("k"), func(session.Record, bool) (session.Record, error) { return rec, nil })
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			s := memstore.New()
			ctx := newPausingCtx()
			done := make(chan error, 1)
			go func() { done <- op(s, ctx) }()
			<-ctx.entered
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			close(ctx.release)
			err := <-done
			if err == nil || s.Len() != 0 {
				t.Errorf("%s paused across Close returned %v after Close had returned; the closed store holds %d records",
					name, err, s.Len())
			}
		})
	}
}

// TestStore_NoLockLeaksUnderRandomDeadlines: many writers with deadlines
// that end at random moments, on few keys, with DeleteUser and
// DeleteExpired among them; afterwards every shard's write lock is free
// (a write of every key with a short deadline succeeds) and the user index
// matches the records.
func TestStore_NoLockLeaksUnderRandomDeadlines(t *testing.T) {
	s := memstore.New()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = storetest.Key(fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(200))*time.Microsecond)
				k := keys[rng.IntN(len(keys))]
				uid := fmt.Sprint("u", rng.IntN(3))
				rec := session.Record{Data: []byte(k), Expires: time.Now().Add(time.Duration(rng.IntN(3)-1) * time.Hour), UserID: uid}
				switch rng.IntN(5) {
				case 0:
					_ = s.Save(ctx, k, rec)
				case 1:
					_ = s.Delete(ctx, k)
				case 2:
					_ = s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
						time.Sleep(time.Duration(rng.IntN(50)) * time.Microsecond)
						return rec, nil
					})
				case 3:
					_, _ = s.DeleteUser(ctx, uid)
				case 4:
					_, _ = s.DeleteExpired(ctx)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, k := range keys {
		if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour), UserID: "final"}); err != nil {
			t.Fatalf("Save after the storm: %v (a leaked write lock?)", err)
		}
	}
	got, err := s.UserKeys(ctx, "final")
	if err != nil || len(got) != len(keys) {
		t.Fatalf("UserKeys(final) = %d keys, %v; want %d", len(got), err, len(keys))
	}
	for _, u := range []string{"u0", "u1", "u2"} {
		if ks, _ := s.UserKeys(ctx, u); len(ks) != 0 {
			t.Errorf("user %s still indexed for %d keys that now belong to another user", u, len(ks))
		}
	}
	if n, err := s.DeleteUser(ctx, "final"); n != len(keys) || err != nil {
		t.Fatalf("DeleteUser = %d, %v", n, err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, session.ErrClosed) {
		t.Fatal(err)
	}
}
