package cachestore_test

// Tests of the cache's write locks now that waits end with the
// context. Each reproduces an attack or an unlucky operator's mistake and checks
// that it fails.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// TestStore_DeletePastItsDeadlineIsNotUndoneByTheCache: in front of the
// bolt store, a Delete whose context ends while its group is being
// committed must not release the key's lock before the outcome is known:
// a Load in that window would cache the old record, the delete would land,
// and the cache would serve a logged-out session until its TTL.
func TestStore_DeletePastItsDeadlineIsNotUndoneByTheCache(t *testing.T) {
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	s, err := cachestore.New(bolt, &cachestore.Options{TTL: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bg := context.Background()
	k := storetest.Key("victim")
	if err := s.Save(bg, k, session.Record{Data: []byte("logged in"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Close() // only to reopen a fresh cache below with nothing cached
	s, _ = cachestore.New(bolt, &cachestore.Options{TTL: time.Hour, Logger: slog.New(slog.DiscardHandler)})

	// blocker occupies bolt's committer with a function that waits.
	blocker := func(key string) (started, release chan struct{}, done chan error) {
		started, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- bolt.UpdateRecord(bg, storetest.Key(key), func(session.Record, bool) (session.Record, error) {
				select {
				case <-started:
				default:
					close(started)
				}
				<-release
				return session.Record{Data: []byte(key), Expires: time.Now().Add(time.Hour)}, nil
			})
		}()
		return
	}
	started1, release1, done1 := blocker("first")
	<-started1
	// Queued behind it: the Delete, then a second blocker, in one group.
	ctx, cancel := context.WithCancel(bg)
	deleted := make(chan error, 1)
	go func() { deleted <- s.Delete(ctx, k) }()
	time.Sleep(20 * time.Millisecond)
	started2, release2, done2 := blocker("second")
	time.Sleep(20 * time.Millisecond)
	close(release1)
	<-started2 // the Delete's function has run in this group; the group is not committed
	cancel()
	select {
	case err := <-deleted:
		// The Delete left while its write was under way.
		if !errors.Is(err, context.Canceled) {
			close(release2)
			t.Fatalf("Delete = %v, want context.Canceled (may or may not be applied)", err)
		}
		// Another request with the same cookie loads the session meanwhile.
		if rec, err := s.Load(bg, k); err == nil {
			t.Logf("Load during the commit: %q", rec.Data)
		}
		close(release2)
	case <-time.After(300 * time.Millisecond):
		// The Delete waits for the transaction its write started in:
		// the cache stays locked until the outcome is known.
		close(release2)
		if err := <-deleted; err != nil {
			t.Fatalf("Delete once its transaction ended = %v", err)
		}
	}
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	_, backErr := bolt.Load(bg, k)
	rec, cacheErr := s.Load(bg, k)
	if errors.Is(backErr, session.ErrNotFound) && cacheErr == nil {
		t.Fatalf("the delete landed in bolt (Load = %v) but the cache serves the session %q: a logout undone until the TTL", backErr, rec.Data)
	}
}

// TestStore_NoStripeLeaksUnderRandomDeadlines: writers and DeleteUser
// (which takes every stripe) with deadlines ending at random moments;
// afterwards every key can be written with a short deadline.
func TestStore_NoStripeLeaksUnderRandomDeadlines(t *testing.T) {
	backing := memstore.New()
	s, err := cachestore.New(backing, &cachestore.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = storetest.Key(fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 200 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(300))*time.Microsecond)
				k := keys[rng.IntN(len(keys))]
				rec := session.Record{Data: []byte(k), Expires: time.Now().Add(time.Hour), UserID: fmt.Sprint("u", rng.IntN(2))}
				switch rng.IntN(4) {
				case 0:
					_ = s.Save(ctx, k, rec)
				case 1:
					_ = s.Delete(ctx, k)
				case 2:
					_ = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
						time.Sleep(time.Duration(rng.IntN(30)) * time.Microsecond)
						return rec, nil
					})
				case 3:
					_, _ = s.DeleteUser(ctx, rec.UserID)
				}
				_, _ = s.Load(ctx, k)
				cancel()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.DeleteUser(ctx, "nobody"); err != nil {
		t.Fatalf("DeleteUser after the storm: %v (a leaked stripe?)", err)
	}
	for _, k := range keys {
		want := session.Record{Data: []byte("final"), Expires: time.Now().Add(time.Hour)}
		if err := s.Save(ctx, k, want); err != nil {
			t.Fatalf("Save after the storm: %v", err)
		}
		if got, err := s.Load(ctx, k); err != nil || string(got.Data) != "final" {
			t.Fatalf("Load = %q, %v", got.Data, err)
		}
		if got, err := backing.Load(ctx, k); err != nil || string(got.Data) != "final" {
			t.Fatalf("backing Load = %q, %v", got.Data, err)
		}
	}
}
