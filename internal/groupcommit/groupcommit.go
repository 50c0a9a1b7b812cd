// Package groupcommit runs the write functions of concurrent callers in
// shared transactions (group commit), so that one commit, and one fsync,
// serves many writers. The embedded stores that write through a single
// writer (bbolt, SQLite) use it.
//
// The first caller to find the committer idle starts a goroutine that
// commits at once, that caller's function alone; callers that arrive
// meanwhile queue, and the next commit takes the whole queue in one
// transaction. No caller ever waits for a timer. Commits run in that
// goroutine rather than in a caller's, so that every caller, the first
// included, can stop waiting when its context ends, and so that a panic
// during a commit reaches no caller's stack.
//
// # Concurrency and crashes
//
// A Committer is safe for concurrent use. It keeps nothing of its own: a
// crash loses the calls queued or under way, none of which has returned,
// and what a transaction under way leaves is the database's business.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// MaxGroup bounds how many functions share one transaction.
const MaxGroup = 1024

// Config says how a Committer runs transactions. Tx is the database's
// transaction type.
type Config[Tx any] struct {
	// Update runs fn in one new write transaction, commits it when fn
	// returns nil and rolls it back otherwise, and returns fn's error or
	// the commit's. Required.
	Update func(fn func(tx Tx) error) error

	// PanicError turns the value of a panic during a group's transaction
	// (in a function, or in Update itself) into the error that the group's
	// calls get. Default: an error naming the panic.
	PanicError func(r any) error

	// Panicked, if set, is called for a panic that escaped Update itself,
	// raised by the database rather than by a function, with the error the
	// group gets (from PanicError), the transaction the functions were
	// called in and whether Update began one at all. It returns the error
	// the group's calls get instead, and whether no write transaction can
	// begin again (the database's writer lock is lost with the panic):
	// every later call then fails at once with that error, rather than
	// wait for the lock forever.
	Panicked func(err error, tx Tx, began bool) (error, bool)

	// Queued, if set, is called by each caller that has just queued its
	// call, with the length of the queue, while the committer's lock is
	// held. Tests use it.
	Queued func(n int)
}

// Committer runs write functions in shared transactions. Create it with
// New.
type Committer[Tx any] struct {
	cfg Config[Tx]

	mu      sync.Mutex
	queue   []*call[Tx]
	running bool  // a goroutine is committing groups
	lost    error // set once the writer lock is lost; answers every call since

	pool sync.Pool // of *call[Tx]
}

// New returns an idle Committer.
func New[Tx any](cfg Config[Tx]) *Committer[Tx] {
	if cfg.PanicError == nil {
		cfg.PanicError = func(r any) error { return fmt.Errorf("panic during a group commit: %v", r) }
	}
	c := &Committer[Tx]{cfg: cfg}
	c.pool.New = func() any { return &call[Tx]{done: make(chan error, 1)} }
	return c
}

// call is one caller's function on its way through the committer. A call
// comes from the pool and goes back to it only from its caller, once the
// committer has answered on done; a caller that leaves before its fn
// started (see Run) leaves its call to the garbage collector, since the
// committer may still hold it.
type call[Tx any] struct {
	ctx  context.Context
	fn   func(Tx) error
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

// Run executes fn in a write transaction shared with concurrent callers and
// returns once that transaction is committed (or with fn's error). fn may be
// called more than once, when another function of its group fails and the
// others run again in a new transaction, so it must be idempotent. A call
// whose ctx has ended when the committer comes to run fn is skipped, and
// returns an error wrapping ctx.Err().
//
// A caller waits for its turn no longer than ctx allows: when ctx ends
// before fn has started, Run returns an error wrapping ctx.Err(), and fn
// never runs. Once fn has started, its transaction is under way and Run
// returns its outcome when it ends, whatever ctx says: fn is never running,
// nor called again, after Run has returned, so it may use memory its
// caller reuses afterwards. A transaction takes one commit's time, unless
// fn itself blocks.
//
// A panic during the commit of a group, raised by one of its functions or
// by the database (memory faults are made panics for the duration), is
// recovered: every call of the group not answered yet gets the error
// Config.PanicError makes of it, and the committer goes on with the calls
// queued behind (unless Config.Panicked reports the writer lock lost).
func (c *Committer[Tx]) Run(ctx context.Context, fn func(Tx) error) error {
	cl := c.pool.Get().(*call[Tx])
	cl.ctx, cl.fn = ctx, fn
	cl.state.Store(callQueued)
	c.mu.Lock()
	c.queue = append(c.queue, cl)
	if c.cfg.Queued != nil {
		c.cfg.Queued(len(c.queue))
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go c.drain()
	}
	select {
	case err := <-cl.done:
		c.recycle(cl)
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-cl.done: // answered meanwhile: the outcome is known
		c.recycle(cl)
		return err
	default:
	}
	if cl.state.CompareAndSwap(callQueued, callAbandoned) {
		return notApplied(ctx.Err())
	}
	// fn has started: wait for the transaction, so fn is done with
	// everything it shares with the caller.
	err := <-cl.done
	c.recycle(cl)
	return err
}

// Idle reports whether no goroutine is committing, and how many calls are
// queued. Tests use it.
func (c *Committer[Tx]) Idle() (idle bool, queued int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.running, len(c.queue)
}

// notApplied is the error of a call skipped because its context ended
// first.
func notApplied(err error) error {
	return fmt.Errorf("%w before the write started; it was not applied", err)
}

// recycle returns cl to the pool. Only its caller may, once answered.
func (c *Committer[Tx]) recycle(cl *call[Tx]) {
	cl.ctx, cl.fn = nil, nil
	c.pool.Put(cl)
}

// begin reports whether the committer may run cl's fn now: its context
// has not ended and its caller has not left.
func (cl *call[Tx]) begin() bool {
	if cl.ctx.Err() != nil {
		return false
	}
	return cl.state.CompareAndSwap(callQueued, callStarted) || cl.state.Load() == callStarted
}

// takeGroup removes up to MaxGroup calls from the front of the queue. When
// the queue is empty it marks the committer idle and returns nil.
func (c *Committer[Tx]) takeGroup() []*call[Tx] {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), MaxGroup)
	if n == 0 {
		c.running = false
		return nil
	}
	group := make([]*call[Tx], n)
	copy(group, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return group
}

// drain commits groups until the queue is empty.
func (c *Committer[Tx]) drain() {
	for g := c.takeGroup(); g != nil; g = c.takeGroup() {
		c.commit(g)
	}
}

// commit runs the group's functions in one transaction and answers each
// call exactly once. A function whose call's context has ended, or whose
// caller has left, is skipped. When a function fails, the transaction is
// rolled back, that call gets its error, and the others are run again
// without it. A panic anywhere in the transaction answers every call not
// answered yet with the panic's error; one that loses the writer lock
// (Config.Panicked) makes the committer answer every later call so too,
// at once.
func (c *Committer[Tx]) commit(group []*call[Tx]) {
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
	var begun Tx // the transaction under way, once Update has begun it
	var began bool
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err := c.cfg.PanicError(r)
		if c.cfg.Panicked != nil {
			var lost bool
			if err, lost = c.cfg.Panicked(err, begun, began); lost {
				c.mu.Lock()
				c.lost = err
				c.mu.Unlock()
			}
		}
		for _, cl := range live {
			cl.done <- err
		}
	}()
	// Reading a truncated or damaged memory-mapped file can fault; make
	// that a panic, recovered above, instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	for len(live) > 0 {
		examined, failed := 0, -1 // live[:examined] were begun or skipped
		var failErr error
		var panicked any // what a function panicked with
		var zero Tx
		begun, began = zero, false
		err := c.cfg.Update(func(tx Tx) error {
			begun, began = tx, true
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
			// Rolled back like a failure, on the database's ordinary path.
			err := c.cfg.PanicError(panicked)
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
// failed one is, on the database's ordinary path rather than its panic
// recovery (bbolt's rebuilds its free page list from the whole file, which
// a damaged file can make crash in a goroutine of bbolt's).
func runGuarded[Tx any](fn func(Tx) error, tx Tx) (panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	return nil, fn(tx)
}

// errGroupMember rolls back a group transaction in which one function
// failed.
var errGroupMember = errors.New("groupcommit: group member failed")
