package boltstore

import (
	"context"
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one transaction.
const maxGroup = 1024

// committer runs write functions in shared bbolt transactions (group
// commit). The first caller to find no commit in progress commits at once,
// its own function alone; callers that arrive meanwhile queue, and the next
// commit takes the whole queue in one transaction, so one fsync serves them
// all. No caller ever waits for a timer.
type committer struct {
	db *bbolt.DB

	mu      sync.Mutex
	queue   []*call
	running bool // a goroutine is committing groups
}

type call struct {
	ctx  context.Context
	fn   func(*bbolt.Tx) error
	done chan error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan error, 1)} }}

// run executes fn in a write transaction shared with concurrent callers and
// returns once that transaction is committed (or fn's error). fn may be
// called more than once, so it must be idempotent. A ctx canceled before fn
// runs skips it.
func (c *committer) run(ctx context.Context, fn func(*bbolt.Tx) error) error {
	cl := callPool.Get().(*call)
	cl.ctx, cl.fn = ctx, fn
	c.mu.Lock()
	c.queue = append(c.queue, cl)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		// Our call is first in the queue: commit its group now, then leave
		// any callers that queued meanwhile to a goroutine of their own.
		c.commit(c.takeGroup())
		c.mu.Lock()
		more := len(c.queue) > 0
		c.running = more
		c.mu.Unlock()
		if more {
			go c.drain()
		}
	}
	err := <-cl.done
	cl.ctx, cl.fn = nil, nil
	callPool.Put(cl)
	return err
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

// commit runs the group's functions in one transaction and reports to each
// caller. When a function fails, the transaction is rolled back, that caller
// gets its error, and the others are run again without it.
func (c *committer) commit(group []*call) {
	live := group[:0:0]
	for _, cl := range group {
		if err := cl.ctx.Err(); err != nil {
			cl.done <- err
			continue
		}
		live = append(live, cl)
	}
	for len(live) > 0 {
		failed := -1
		var failErr error
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, cl := range live {
				if err := cl.fn(tx); err != nil {
					failed, failErr = i, err
					return errGroupMember
				}
			}
			return nil
		})
		if failed >= 0 {
			live[failed].done <- failErr
			live = append(live[:failed], live[failed+1:]...)
			continue
		}
		for _, cl := range live {
			cl.done <- err
		}
		return
	}
}

// errGroupMember rolls back a group transaction in which one function failed.
var errGroupMember = errors.New("boltstore: group member failed")
