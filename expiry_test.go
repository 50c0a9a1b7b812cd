package session

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSession_ExpiryMathsMatchDjango(t *testing.T) {
	env := newEnv(t, nil)
	now := env.clock.Now()
	twoWeeks := 14 * 24 * time.Hour
	tests := []struct {
		name         string
		op           func(*Session)
		age          time.Duration
		date         time.Time
		browserClose bool
	}{
		{"default", func(*Session) {}, twoWeeks, now.Add(twoWeeks), false},
		{"max age", func(s *Session) { s.SetMaxAge(10 * time.Second) }, 10 * time.Second, now.Add(10 * time.Second), false},
		{"absolute", func(s *Session) { s.SetExpiresAt(now.Add(90*time.Second + 500*time.Millisecond)) }, 90 * time.Second, now.Add(90*time.Second + 500*time.Millisecond), false},
		{"absolute past", func(s *Session) { s.SetExpiresAt(now.Add(-time.Hour)) }, -time.Hour, now.Add(-time.Hour), false},
		{"browser close", func(s *Session) { s.SetExpireAtBrowserClose() }, twoWeeks, now.Add(twoWeeks), true},
		{"reset", func(s *Session) { s.SetMaxAge(time.Second); s.ResetExpiry() }, twoWeeks, now.Add(twoWeeks), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := env.load(t, "")
			tc.op(s)
			if got := s.ExpiryAge(); got != tc.age {
				t.Errorf("ExpiryAge = %v, want %v", got, tc.age)
			}
			if got := s.ExpiryDate(); !got.Equal(tc.date) {
				t.Errorf("ExpiryDate = %v, want %v", got, tc.date)
			}
			if got := s.ExpireAtBrowserClose(); got != tc.browserClose {
				t.Errorf("ExpireAtBrowserClose = %v, want %v", got, tc.browserClose)
			}
		})
	}
}

func TestSession_CustomExpiryPersists(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.SetMaxAge(time.Hour)
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	again := env.load(t, s.ID())
	if again.ExpiryAge() != time.Hour || again.Len() != 0 {
		t.Errorf("reloaded ExpiryAge %v, Len %d; want 1h and no keys (expiry is not a key)", again.ExpiryAge(), again.Len())
	}
	env.clock.Advance(time.Hour)
	if env.load(t, s.ID()).ID() != "" {
		t.Error("session loads after its max age")
	}
}

func TestSession_ExpiresAtIsHonouredByStore(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.SetExpiresAt(env.clock.Now().Add(time.Minute))
	s.Set("a", 1)
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(59 * time.Second)
	if env.load(t, s.ID()).ID() == "" {
		t.Fatal("session expired early")
	}
	env.clock.Advance(time.Second)
	if env.load(t, s.ID()).ID() != "" {
		t.Error("session loads at its expiry time")
	}
}

// sweepStore is a store whose DeleteExpired reports each call.
type sweepStore struct {
	*mapStore
	calls atomic.Int32
	swept chan struct{}
}

func (s *sweepStore) DeleteExpired(ctx context.Context) (int, error) {
	s.calls.Add(1)
	select {
	case s.swept <- struct{}{}:
	default:
	}
	return 0, nil
}

func TestSweeper_SweepsOnEachTickAndStops(t *testing.T) {
	st := &sweepStore{mapStore: newMapStore(time.Now), swept: make(chan struct{}, 1)}
	ticks := make(chan time.Time)
	var waited atomic.Int64
	sw := startSweeper(st, time.Minute, slog.New(slog.DiscardHandler), func(d time.Duration) <-chan time.Time {
		if d < 54*time.Second || d >= 66*time.Second {
			t.Errorf("waited %v for a one-minute interval", d)
		}
		waited.Add(1)
		return ticks
	})
	for i := range 3 {
		ticks <- time.Now()
		select {
		case <-st.swept:
		case <-time.After(10 * time.Second):
			t.Fatal("no sweep after a tick")
		}
		if got := st.calls.Load(); got != int32(i+1) {
			t.Fatalf("after %d ticks, %d sweeps", i+1, got)
		}
	}
	sw.stop()
	select {
	case <-sw.stopped:
	default:
		t.Fatal("stop returned before the goroutine ended")
	}
	sw.stop() // idempotent
	if st.calls.Load() != 3 {
		t.Errorf("%d sweeps, want 3", st.calls.Load())
	}
}

func TestEngine_CloseStopsSweeper(t *testing.T) {
	st := &sweepStore{mapStore: newMapStore(time.Now), swept: make(chan struct{})}
	e, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.sweeper == nil {
		t.Fatal("New started no sweeper for a store with DeleteExpired")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.sweeper.stopped:
	default:
		t.Fatal("Close returned before the sweeper goroutine ended")
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSweeper_TinyIntervalDoesNotSpin(t *testing.T) {
	s := &sweeper{interval: time.Nanosecond}
	if d := s.jittered(); d < minSweepWait {
		t.Errorf("jittered(1ns) = %v", d)
	}
}

func TestSweeper_DisabledOrNotSupported(t *testing.T) {
	st := &sweepStore{mapStore: newMapStore(time.Now), swept: make(chan struct{})}
	opts := DefaultOptions()
	opts.SweepInterval = -1
	e, _ := New(st, opts)
	if e.sweeper != nil {
		t.Error("negative SweepInterval started a sweeper")
	}
	e.Close()
	e2, _ := New(newMapStore(time.Now), nil)
	if e2.sweeper != nil {
		t.Error("a store without DeleteExpired got a sweeper")
	}
	e2.Close()
}

func TestSweeper_JitterStaysWithinTenPercent(t *testing.T) {
	s := &sweeper{interval: time.Second}
	for range 1000 {
		if d := s.jittered(); d < 900*time.Millisecond || d >= 1100*time.Millisecond {
			t.Fatalf("jittered interval %v", d)
		}
	}
}

func TestNew_ValidatesOptions(t *testing.T) {
	st := newMapStore(time.Now)
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil store) succeeded")
	}
	for name, edit := range map[string]func(*Options){
		"bad cookie name": func(o *Options) { o.CookieName = "bad name;" },
		"tiny age":        func(o *Options) { o.CookieAge = time.Millisecond },
		"negative idle":   func(o *Options) { o.IdleTimeout = -time.Second },
		"none insecure":   func(o *Options) { o.CookieSameSite = http.SameSiteNoneMode },
		"bad domain":      func(o *Options) { o.CookieDomain = "exa mple.com" },
		"bad path":        func(o *Options) { o.CookiePath = "/a;b" },
	} {
		o := DefaultOptions()
		edit(o)
		if _, err := New(st, o); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
			t.Errorf("%s: New = %v, want a session: error", name, err)
		}
	}
	o := &Options{} // zero values take the defaults where zero is meaningless
	e, err := New(st, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := e.Options()
	if got.CookieName != "sessionid" || got.CookieAge != 14*24*time.Hour || got.CookiePath != "/" || got.Codec == nil {
		t.Errorf("defaults not applied: %+v", got)
	}
	o.CookieName = "changed"
	if e.Options().CookieName != "sessionid" {
		t.Error("New kept a reference to the caller's Options")
	}
	if a, b := DefaultOptions(), DefaultOptions(); a == b {
		t.Error("DefaultOptions returned a shared value")
	}
}
