package session

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// sweeper calls a store's DeleteExpired on an interval, with jitter so that
// several processes sharing a store do not sweep in step.
type sweeper struct {
	store    Sweeper
	interval time.Duration
	log      *slog.Logger

	// wait returns a channel that delivers after d: time.After, or a fake
	// in tests.
	wait func(d time.Duration) <-chan time.Time

	cancel   context.CancelFunc // stops a sweep in progress
	done     chan struct{}      // closed by stop
	stopped  chan struct{}      // closed when the goroutine has returned
	stopOnce sync.Once
}

// startSweeper starts sweeping store every interval (with jitter); wait is
// time.After outside tests.
func startSweeper(store Sweeper, interval time.Duration, log *slog.Logger, wait func(time.Duration) <-chan time.Time) *sweeper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sweeper{
		store:    store,
		interval: interval,
		log:      log,
		wait:     wait,
		cancel:   cancel,
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// minSweepWait keeps a tiny SweepInterval from spinning.
const minSweepWait = time.Millisecond

// jittered returns the interval scaled by a random factor in [0.9, 1.1).
func (s *sweeper) jittered() time.Duration {
	return max(minSweepWait, time.Duration(float64(s.interval)*(0.9+0.2*rand.Float64())))
}

func (s *sweeper) run(ctx context.Context) {
	defer close(s.stopped)
	for {
		select {
		case <-s.done:
			return
		case <-s.wait(s.jittered()):
		}
		start := time.Now()
		n, err := s.store.DeleteExpired(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("session: sweep failed", "err", err, "deleted", n)
		case n > 0:
			s.log.Info("session: swept expired sessions", "deleted", n, "took", time.Since(start))
		}
	}
}

// stop ends the sweeper, cancelling a sweep in progress, and waits for the
// goroutine to return. It is idempotent.
func (s *sweeper) stop() {
	s.stopOnce.Do(func() {
		close(s.done)
		s.cancel()
	})
	<-s.stopped
}
