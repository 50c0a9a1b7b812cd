// Package testkit holds helpers shared by the tests and benchmarks of this
// module and of the bench and e2e modules nested in it: a fake clock, a log
// sink, the realistic session the benchmarks work on, and loopback ports for
// the servers tests start. It is not for use
// outside them.
//
// It imports only the standard library and nothing from this module, so
// that every package of the module, the root package's own internal tests
// included, can use it without an import cycle.
//
// A Clock and a LogBuffer are safe for concurrent use: an engine, a store
// and their goroutines may share one with the test that drives them.
package testkit

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Clock is a fake time source that moves only when told to. Its Now method
// fits the Now fields of the engine's and the stores' options. The zero
// Clock reads the zero time. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads t until it is advanced.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d, which may be negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// LogBuffer is an io.Writer that keeps what is written to it, for a logger
// or a child process's output. The zero LogBuffer is empty and ready to
// use. It is safe for concurrent use: writes from several goroutines do not
// interleave within one Write, and String may be called while they run.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer. It never fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TenKeys returns the realistic session of the benchmarks: what a web
// application typically keeps for a logged-in user, ten keys of mixed
// types (about 350 bytes once encoded with msgpack). The values are already
// in the form Session.Set stores them (the counter is an int64), so they
// encode and decode unchanged. Each call returns a new map that the caller
// may modify.
func TenKeys() map[string]any {
	return map[string]any{
		"_auth_user_id":      "8412",
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		"_auth_user_hash":    "f3b1c2d4e5a6978812345678abcdef0123456789abcdef0123456789abcdef01",
		"username":           "sonam.rathore",
		"counter":            int64(17),
		"cart":               []any{"sku-1042", "sku-2211", "sku-0007"},
		"last_login":         time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		"theme":              "dark",
		"csrf_token":         "p8UWZ3vL0rN7c2qK9xY4tB6mE1sH5jDf",
		"prefs":              map[string]any{"lang": "en", "tz": "Asia/Kolkata", "beta": true},
	}
}

// SizedSession returns a session of n keys: "counter" (17) and n-1
// strings of 100 bytes under "k0001", "k0002"..., the shape of a cart or
// a wizard's saved form, for the benchmarks and tests of cost by size.
func SizedSession(n int) map[string]any {
	m := map[string]any{"counter": int64(17)}
	for i := 1; i < n; i++ {
		m[fmt.Sprintf("k%04d", i)] = strings.Repeat(string(rune('a'+i%26)), 100)
	}
	return m
}

// InParallel calls fn(i) for every i below n from the given number of
// goroutines, each taking the next i as it finishes the last. A goroutine
// whose call fails stops, and one of the errors is returned once all have.
func InParallel(goroutines, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range goroutines {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// TimedInParallel is InParallel, timed: it returns how long the n calls
// took, and marks tb failed (without stopping it) when one fails.
func TimedInParallel(tb testing.TB, goroutines, n int, fn func(i int) error) time.Duration {
	start := time.Now()
	if err := InParallel(goroutines, n, fn); err != nil {
		tb.Error(err)
	}
	return time.Since(start)
}
