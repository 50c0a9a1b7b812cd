package memstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// Deadlines of the lock test: a call waits lockDeadline for a lock that is
// not released, and must have returned lockGrace after it started.
const (
	lockDeadline = 300 * time.Millisecond
	lockGrace    = 2 * time.Second
)

// TestStore_WriteLockWaitEndsWithContext: while an UpdateRecord's function
// blocks, the writes of its key give up when their context ends, with an
// error wrapping the context's, and change nothing; a Load does not wait
// for the function; the store works once the UpdateRecord is done.
func TestStore_WriteLockWaitEndsWithContext(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	k := storetest.Key("busy")
	live := time.Now().Add(time.Hour)
	if err := s.Save(ctx, k, session.Record{Data: []byte("before"), Expires: live, UserID: "alice"}); err != nil {
		t.Fatal(err)
	}

	entered, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	updated := make(chan error, 1)
	go func() {
		updated <- s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
			close(entered)
			<-unblock
			return session.Record{Data: []byte("updated"), Expires: live, UserID: "alice"}, nil
		})
	}()
	<-entered

	rec := session.Record{Data: []byte("late"), Expires: live}
	ops := []struct {
		name    string
		op      func(ctx context.Context) error
		waiting bool // whether op waits for the blocked Update
	}{
		{"Load", func(ctx context.Context) error {
			got, err := s.Load(ctx, k)
			if err == nil && string(got.Data) != "before" {
				err = errors.New("Load during the Update returned " + string(got.Data))
			}
			return err
		}, false},
		{"Save", func(ctx context.Context) error { return s.Save(ctx, k, rec) }, true},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, k) }, true},
		{"Update", func(ctx context.Context) error {
			return s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil })
		}, true},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, "alice"); return err }, true},
		{"DeleteExpired", func(ctx context.Context) error { _, err := s.DeleteExpired(ctx); return err }, true},
	}
	for _, o := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), lockDeadline)
		done := make(chan error, 1)
		go func() { done <- o.op(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(lockGrace):
			release()
			err = <-done
			cancel()
			t.Fatalf("%s with a %v deadline did not return within %v; it returned %v once the Update was released",
				o.name, lockDeadline, lockGrace, err)
		}
		cancel()
		switch {
		case !o.waiting && err != nil:
			t.Errorf("%s during the blocked Update: %v", o.name, err)
		case o.waiting && (!errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write lock")):
			t.Errorf("%s during the blocked Update = %v; want an error wrapping context.DeadlineExceeded about the write lock", o.name, err)
		}
	}

	release()
	if err := <-updated; err != nil {
		t.Fatalf("the blocked Update: %v", err)
	}
	if got, err := s.Load(ctx, k); err != nil || string(got.Data) != "updated" {
		t.Fatalf("Load after the abandoned writes = %q, %v; want %q", got.Data, err, "updated")
	}
	if err := s.Save(ctx, k, rec); err != nil {
		t.Fatalf("Save once the Update is done: %v", err)
	}
	if n, err := s.DeleteUser(ctx, "alice"); n != 0 || err != nil {
		t.Fatalf("DeleteUser after the owner changed = %d, %v; want 0, nil", n, err)
	}
}
