package boltstore

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 1024

// committer runs write functions in shared bbolt transactions (group
// commit). The first caller to find the committer idle starts a goroutine
// that commits at once, that caller's function alone; callers that arrive
// meanwhile queue, and the next commit takes the whole queue in one
// transaction, so one fsync serves them all. No caller ever waits for a
// timer. Commits run in that goroutine rather than in a caller's, so that
// every caller, the first included, can stop waiting when its context
// ends, and so that a panic during a commit reaches no caller's stack.
type committer struct {
	db *bbolt.DB

	mu      sync.Mutex
	queue   []*call
	running bool  // a goroutine is committing groups
	lost    error // set once bbolt's writer lock is lost; answers every call since

	// broke, if set, is called once for each panic in bbolt's own commit
	// code (not in a call's function), with the error the group gets:
	// bbolt's internal locks may be held for good after one, so the Store
	// stops using the file (see Store.view).
	broke func(err error)

	// queued, if set, is called with mu held by each caller that has just
	// queued its call, with the length of the queue. Tests use it; nil
	// otherwise.
	queued func(n int)
}

// call is one caller's function on its way through the committer. A call
// comes from callPool and goes back to it only from its caller, once the
// committer has answered on done; a caller that leaves before its fn
// started (see run) leaves its call to the garbage collector, since the
// committer may still hold it.
type call struct {
	ctx  context.Context
	fn   func(*bbolt.Tx) error
	done chan error // the committer sends the call's one result

	// state settles a race between the caller leaving and the committer
	// starting fn: whichever moves it from callQueued first wins.
	state atomic.Uint32
	// skipped is the committer's note that it did not run fn in the
	// transaction just attempted.
	skipped bool
}

// States of a call.
const (
	callQueued    = iota // fn has not started
	callStarted          // fn has started, in some transaction
	callAbandoned        // the caller left before fn started; it never will
)

var callPool = sync.Pool{New: func() any { return &call{done: make(chan error, 1)} }}

// run executes fn in a write transaction shared with concurrent callers and
// returns once that transaction is committed (or with fn's error). fn may be
// called more than once, when another function of its group fails and the
// others run again in a new transaction, so it must be idempotent. A call
// whose ctx has ended when the committer comes to run fn is skipped, and
// returns an error wrapping ctx.Err().
//
// A caller waits for its turn no longer than ctx allows: when ctx ends
// before fn has started, run returns an error wrapping ctx.Err(), and fn
// never runs. Once fn has started, its transaction is under way and run
// returns its outcome when it ends, whatever ctx says: fn is never running,
// nor called again, after run has returned, so it may use memory its
// caller reuses afterwards (the engine encodes into pooled buffers). A
// transaction takes one commit's time, unless fn itself blocks.
//
// A panic during the commit of a group, raised by one of its functions or
// by bbolt (memory faults, which a damaged file can cause, are made panics
// for the duration), is recovered: every call of the group not answered
// yet gets an error wrapping session.ErrCorrupt, and the committer goes on
// with the calls queued behind. If the panic left bbolt's writer lock held
// (it struck while bbolt began the transaction, or again while bbolt rolled
// it back), no write transaction can ever begin on the database again: that
// call and every later one then fail at once with an error wrapping
// session.ErrCorrupt that says so, rather than wait for the lock forever.
func (c *committer) run(ctx context.Context, fn func(*bbolt.Tx) error) error {
	cl := callPool.Get().(*call)
	cl.ctx, cl.fn = ctx, fn
	cl.state.Store(callQueued)
	c.mu.Lock()
	c.queue = append(c.queue, cl)
	if c.queued != nil {
		c.queued(len(c.queue))
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go c.drain()
	}
	select {
	case err := <-cl.done:
		cl.recycle()
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-cl.done: // answered meanwhile: the outcome is known
		cl.recycle()
		return err
	default:
	}
	if cl.state.CompareAndSwap(callQueued, callAbandoned) {
		return notApplied(ctx.Err())
	}
	// fn has started: wait for the transaction, so fn is done with
	// everything it shares with the caller.
	err := <-cl.done
	cl.recycle()
	return err
}

// notApplied is the error of a call skipped because its context ended
// first.
func notApplied(err error) error {
	return fmt.Errorf("%w before the write started; it was not applied", err)
}

// recycle returns cl to callPool. Only its caller may, once answered.
func (cl *call) recycle() {
	cl.ctx, cl.fn = nil, nil
	callPool.Put(cl)
}

// begin reports whether the committer may run cl's fn now: its context
// has not ended and its caller has not left.
func (cl *call) begin() bool {
	if cl.ctx.Err() != nil {
		return false
	}
	return cl.state.CompareAndSwap(callQueued, callStarted) || cl.state.Load() == callStarted
}

// takeGroup removes up to maxGroup calls from the front of the queue. When
// the queue is empty it marks the committer idle and returns nil.
func (c *committer) takeGroup() []*call {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), maxGroup)
	if n == 0 {
		c.running = false
		return nil
	}
	group := make([]*call, n)
	copy(group, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return group
}

// drain commits groups until the queue is empty.
func (c *committer) drain() {
	for g := c.takeGroup(); g != nil; g = c.takeGroup() {
		c.commit(g)
	}
}

// commit runs the group's functions in one transaction and answers each
// call exactly once. A function whose call's context has ended, or whose
// caller has left, is skipped. When a function fails, the transaction is
// rolled back, that call gets its error, and the others are run again
// without it. A panic anywhere in the transaction answers every call not
// answered yet with an error wrapping session.ErrCorrupt; one that leaves
// bbolt's writer lock held makes the committer answer every later call so
// too, at once.
func (c *committer) commit(group []*call) {
	live := group // the calls not answered yet
	c.mu.Lock()
	lost := c.lost
	c.mu.Unlock()
	if lost != nil {
		for _, cl := range live {
			cl.done <- lost
		}
		return
	}
	var begun *bbolt.Tx // the transaction under way, once bbolt has begun it
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err := panicError(r)
		// bbolt releases its writer lock when it closes the transaction,
		// which clears the transaction's DB. Still set, or never begun (the
		// panic struck in Begin, which holds the lock), it is held for good.
		if begun == nil || begun.DB() != nil {
			err = fmt.Errorf("%w; bbolt's write lock is lost with it, so every later write fails until the process restarts", err)
			c.mu.Lock()
			c.lost = err
			c.mu.Unlock()
		}
		if c.broke != nil {
			c.broke(err)
		}
		for _, cl := range live {
			cl.done <- err
		}
	}()
	// Reading a truncated or damaged file through bbolt's mmap can fault;
	// make that a panic, recovered above, instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	for len(live) > 0 {
		examined, failed := 0, -1 // live[:examined] were begun or skipped
		var failErr error
		var panicked any // what a function panicked with
		begun = nil
		err := c.db.Update(func(tx *bbolt.Tx) error {
			begun = tx
			examined, failed, panicked = 0, -1, nil
			for i, cl := range live {
				examined = i + 1
				if cl.skipped = !cl.begin(); cl.skipped {
					continue
				}
				p, err := runGuarded(cl.fn, tx)
				if p != nil {
					panicked = p
					return errGroupMember
				}
				if err != nil {
					failed, failErr = i, err
					return errGroupMember
				}
			}
			return nil
		})
		if panicked != nil {
			// Rolled back like a failure, on bbolt's ordinary path.
			err := panicError(panicked)
			for _, cl := range live {
				cl.done <- err
			}
			return
		}
		// Compact in place: rest never gets ahead of i, and nothing below
		// can panic, so live always holds exactly the calls not answered.
		rest := live[:0]
		for i, cl := range live {
			switch {
			case i < examined && cl.skipped:
				cl.done <- notApplied(cl.ctx.Err())
			case i == failed:
				cl.done <- failErr
			case failed >= 0:
				rest = append(rest, cl) // rolled back: run it again
			default:
				cl.done <- err
			}
		}
		live = rest
	}
}

// runGuarded calls fn, recovering a panic: a function that panics returns
// the panic's value, and its transaction is then rolled back the way a
// failed one is. bbolt's own recovery, for a panic that escapes the
// transaction's function, rolls back by rebuilding its free page list from
// the whole file (the store does not sync the list), which a damaged file
// can make crash in a goroutine of bbolt's, where nothing can recover it.
func runGuarded(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	return nil, fn(tx)
}

// panicError is the error of the calls of a group whose commit panicked
// with r.
func panicError(r any) error {
	return fmt.Errorf("boltstore: panic during a group commit: %v: %w", r, session.ErrCorrupt)
}

// errGroupMember rolls back a group transaction in which one function failed.
var errGroupMember = errors.New("boltstore: group member failed")
