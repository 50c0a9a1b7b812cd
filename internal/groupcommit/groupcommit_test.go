package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// memDB is a map with all-or-nothing transactions that counts its commits.
type memDB struct {
	mu      sync.Mutex
	data    map[string]int
	commits int
	hold    chan struct{} // when not nil, each Update waits on it first
}

func (db *memDB) update(fn func(map[string]int) error) error {
	if db.hold != nil {
		<-db.hold
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx := maps.Clone(db.data)
	if err := fn(tx); err != nil {
		return err
	}
	db.data = tx
	db.commits++
	return nil
}

func newMem() (*memDB, *Committer[map[string]int]) {
	db := &memDB{data: map[string]int{}}
	return db, New(Config[map[string]int]{Update: db.update})
}

// TestCommitter_QueuedCallsShareOneCommit: calls that queue behind a commit
// under way share the next one, and every one of them lands.
func TestCommitter_QueuedCallsShareOneCommit(t *testing.T) {
	db, c := newMem()
	db.hold = make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- c.Run(context.Background(), func(tx map[string]int) error { tx["first"] = 1; return nil })
	}()
	for idle, _ := c.Idle(); idle; idle, _ = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := c.Run(context.Background(), func(tx map[string]int) error { tx[fmt.Sprint(i)] = i; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	for _, q := c.Idle(); q < n; _, q = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	close(db.hold)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if len(db.data) != n+1 || db.commits != 2 {
		t.Fatalf("%d keys in %d commits; want %d keys in 2 commits", len(db.data), db.commits, n+1)
	}
}

// TestCommitter_FailedMemberFailsAlone: a function that fails gets its
// error; the others of its group are committed without it.
func TestCommitter_FailedMemberFailsAlone(t *testing.T) {
	db, c := newMem()
	db.hold = make(chan struct{})
	go c.Run(context.Background(), func(map[string]int) error { return nil })
	for idle, _ := c.Idle(); idle; idle, _ = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	boom := errors.New("boom")
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			errs[i] = c.Run(context.Background(), func(tx map[string]int) error {
				if i == 1 {
					return boom
				}
				tx[fmt.Sprint(i)] = i
				return nil
			})
		})
	}
	for _, q := c.Idle(); q < 3; _, q = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	close(db.hold)
	wg.Wait()
	if !errors.Is(errs[1], boom) || errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors %v; want only the failing call's", errs)
	}
	if _, ok := db.data["1"]; ok || len(db.data) != 2 {
		t.Fatalf("stored %v; want the two others", db.data)
	}
}

// TestCommitter_LeavesBeforeItsTurn: a caller whose context ends while it
// waits gets the context's error, and its function never runs.
func TestCommitter_LeavesBeforeItsTurn(t *testing.T) {
	db, c := newMem()
	db.hold = make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), func(map[string]int) error { return nil }) }()
	for idle, _ := c.Idle(); idle; idle, _ = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := c.Run(ctx, func(map[string]int) error { ran = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("Run past its deadline = %v; want the deadline, not applied", err)
	}
	close(db.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for idle, _ := c.Idle(); !idle; idle, _ = c.Idle() {
		time.Sleep(time.Millisecond)
	}
	if ran {
		t.Error("the function of a caller that left ran")
	}
}

// TestCommitter_PanicIsAnError: a panicking function fails its group with
// the panic's error, and the committer goes on.
func TestCommitter_PanicIsAnError(t *testing.T) {
	_, c := newMem()
	err := c.Run(context.Background(), func(map[string]int) error { panic("kaput") })
	if err == nil || !strings.Contains(err.Error(), "kaput") {
		t.Fatalf("Run of a panicking function = %v", err)
	}
	if err := c.Run(context.Background(), func(tx map[string]int) error { tx["after"] = 1; return nil }); err != nil {
		t.Fatalf("a call after the panic: %v", err)
	}
}
