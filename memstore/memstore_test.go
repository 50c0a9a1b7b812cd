package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store { return memstore.New() })
}

func TestStore_ExpiryFollowsClock(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memstore.NewWithClock(func() time.Time { return now })
	ctx := context.Background()
	k := storetest.Key("clock")
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, k); err != nil {
		t.Fatalf("live record: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("record at its expiry: %v, want ErrNotFound", err)
	}
	if n, _ := s.DeleteExpired(ctx); n != 1 || s.Len() != 0 {
		t.Fatalf("DeleteExpired = %d, Len = %d; want 1, 0", n, s.Len())
	}
}

func TestStore_ClosedReturnsErrClosed(t *testing.T) {
	s := memstore.New()
	_ = s.Close()
	if _, err := s.Load(context.Background(), storetest.Key("x")); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Load after Close = %v, want ErrClosed", err)
	}
}
