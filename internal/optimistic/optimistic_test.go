package optimistic

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeys_Hints(t *testing.T) {
	k := New[string]()
	if _, ok := k.Take("a"); ok {
		t.Fatal("a hint before any Remember")
	}
	k.Remember("a", "v1")
	if v, ok := k.Take("a"); !ok || v != "v1" {
		t.Fatalf("Take = %q, %v; want v1", v, ok)
	}
	if _, ok := k.Take("a"); ok {
		t.Error("a hint is taken twice")
	}
	k.Remember("a", "v2")
	k.Forget("a")
	if _, ok := k.Take("a"); ok {
		t.Error("Forget left the hint")
	}
	k.Remember("a", "v3")
	k.Forget("b") // another key: a's hint stays, whatever its stripe
	if v, ok := k.Take("a"); !ok || v != "v3" {
		t.Errorf("Forget of another key dropped a's hint (%q, %v)", v, ok)
	}
	k.Remember("a", "v4")
	k.ForgetAll()
	if _, ok := k.Take("a"); ok {
		t.Error("ForgetAll left a hint")
	}
}

func TestKeys_LockTakesTurnsAndHonoursContext(t *testing.T) {
	k := New[int]()
	unlock, err := k.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := k.Lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held key = %v; want the context's deadline", err)
	}
	unlock()
	unlock2, err := k.Lock(context.Background(), "a")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestBackoff(t *testing.T) {
	if err := Backoff(context.Background(), 1); err != nil {
		t.Errorf("first attempt: %v", err)
	}
	start := time.Now()
	for a := 2; a < 30; a++ {
		if err := Backoff(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 28*25*time.Millisecond {
		t.Errorf("28 back-offs took %v; each is at most 20ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Backoff(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Backoff with a canceled context = %v", err)
	}
}
