package session

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// expiryAge is Django's get_expiry_age, in whole seconds, as of now.
func (e *Engine) expiryAge(x expiry, now time.Time) time.Duration {
	switch x.kind {
	case expiryMaxAge:
		return x.maxAge.Truncate(time.Second)
	case expiryAt:
		return x.at.Sub(now).Truncate(time.Second)
	}
	return e.opts.CookieAge.Truncate(time.Second)
}

// expiryDate is Django's get_expiry_date, as of now.
func (e *Engine) expiryDate(x expiry, now time.Time) time.Time {
	switch x.kind {
	case expiryMaxAge:
		return now.Add(x.maxAge)
	case expiryAt:
		return x.at
	}
	return now.Add(e.opts.CookieAge)
}

// expireAtBrowserClose is Django's get_expire_at_browser_close.
func (e *Engine) expireAtBrowserClose(x expiry) bool {
	if x.kind == expiryDefault {
		return e.opts.ExpireAtBrowserClose
	}
	return x.kind == expiryBrowserClose
}

// recordExpiry is when a record saved now stops being valid: the expiry
// date, brought forward by the idle timeout.
func (e *Engine) recordExpiry(x expiry, now time.Time) time.Time {
	t := e.expiryDate(x, now)
	if e.opts.IdleTimeout > 0 {
		if idle := now.Add(e.opts.IdleTimeout); idle.Before(t) {
			t = idle
		}
	}
	return t
}

// needsIdleRefresh reports whether a loaded, unmodified session should be
// written again to push its idle expiry forward: only when that gains more
// than a tenth of the idle timeout, so busy sessions are not rewritten on
// every request. s.mu must be held.
func (e *Engine) needsIdleRefresh(s *Session, now time.Time) bool {
	if e.opts.IdleTimeout <= 0 || !s.stored || !s.loaded {
		return false
	}
	return e.recordExpiry(s.expiry, now).Sub(s.recExpires) > e.opts.IdleTimeout/10
}

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
