package testkit

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := NewClock(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(8*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if !new(Clock).Now().IsZero() {
		t.Fatal("the zero Clock does not read the zero time")
	}
}

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			fmt.Fprintf(&b, "line %d\n", i)
			_ = b.String()
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 8 {
		t.Fatalf("%d lines, want 8:\n%s", n, b.String())
	}
}

func TestTenKeys(t *testing.T) {
	a, b := TenKeys(), TenKeys()
	if len(a) != 10 {
		t.Fatalf("%d keys, want 10", len(a))
	}
	a["theme"] = "light"
	if b["theme"] != "dark" {
		t.Fatal("TenKeys maps share state")
	}
}

func TestInParallel_CallsEachIndexOnceAndReturnsAnError(t *testing.T) {
	var seen [100]atomic.Int32
	if err := InParallel(7, len(seen), func(i int) error { seen[i].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("index %d called %d times", i, n)
		}
	}
	boom := errors.New("boom")
	if err := InParallel(4, 50, func(i int) error {
		if i == 10 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Errorf("InParallel = %v, want the failing call's error", err)
	}
}

func TestFreePort(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		port, err := FreePort(100)
		if err != nil {
			t.Fatal(err)
		}
		if port < minServerPort || port+100 >= low {
			t.Fatalf("FreePort(100) = %d, want within [%d, %d)", port, minServerPort, low-100)
		}
	}
	if _, err := FreePort(low); err == nil {
		t.Fatal("FreePort with an offset past the ephemeral range found a port")
	}
}
