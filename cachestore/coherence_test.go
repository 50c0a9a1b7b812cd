package cachestore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// twoProcesses returns two Stores over two filestores sharing one
// directory, as two server processes would have, with one fake clock.
func twoProcesses(t *testing.T, ttl time.Duration) (a, b *cachestore.Store, clk *testkit.Clock) {
	t.Helper()
	dir := t.TempDir()
	clk = newFakeClock()
	opts := &cachestore.Options{TTL: ttl, Now: clk.Now}
	a = newCache(t, openFiles(t, dir, &filestore.Options{NoSync: true}), opts)
	b = newCache(t, openFiles(t, dir, &filestore.Options{NoSync: true}), opts)
	return a, b, clk
}

// TestCoherence_TwoProcesses_TTLBoundsStaleness checks the bound that
// Options.TTL gives on what another process's cache serves after a write
// or a delete made here.
func TestCoherence_TwoProcesses_TTLBoundsStaleness(t *testing.T) {
	const ttl = 2 * time.Second
	a, b, clk := twoProcesses(t, ttl)
	ctx := t.Context()
	k := storetest.Key("shared")
	data := func(s *cachestore.Store) string {
		t.Helper()
		rec, err := s.Load(ctx, k)
		if errors.Is(err, session.ErrNotFound) {
			return "<none>"
		} else if err != nil {
			t.Fatal(err)
		}
		return string(rec.Data)
	}

	mustSave(t, a, k, session.Record{Data: []byte("v1"), Expires: live()})
	if got := data(b); got != "v1" {
		t.Fatalf("b reads %q, want v1", got)
	}
	clk.Advance(time.Second)
	mustSave(t, a, k, session.Record{Data: []byte("v2"), Expires: live()})
	if got := data(a); got != "v2" {
		t.Fatalf("a reads %q after its own write, want v2", got)
	}
	// b read v1 a second ago: it may serve it until TTL after that read...
	clk.Advance(ttl - time.Second - time.Millisecond)
	if got := data(b); got != "v1" {
		t.Fatalf("b reads %q within the TTL, want its cached v1", got)
	}
	// ...and not a moment longer.
	clk.Advance(time.Millisecond)
	if got := data(b); got != "v2" {
		t.Fatalf("b reads %q once the TTL has passed, want v2", got)
	}

	// A delete (a logout in a's process) reaches b within the TTL too.
	if err := a.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	clk.Advance(ttl - time.Millisecond)
	if got := data(b); got != "v2" {
		t.Fatalf("b reads %q within the TTL, want its cached v2", got)
	}
	clk.Advance(time.Millisecond)
	if got := data(b); got != "<none>" {
		t.Fatalf("b reads %q a TTL after the delete, want nothing", got)
	}
}

// TestCoherence_TwoProcesses_StaleReadCannotResurrect checks that the
// staleness is of reads only: a session loaded from b's cache after a
// deleted it is not brought back by b's commit, and a session changed in a
// is merged, not overwritten, by b's commit of another key.
func TestCoherence_TwoProcesses_StaleReadCannotResurrect(t *testing.T) {
	a, b, _ := twoProcesses(t, time.Hour)
	ctx := t.Context()
	opts := &session.Options{SweepInterval: -1}
	ea, err := session.New(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ea.Close()
	eb, err := session.New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()

	sa, _ := ea.Load(ctx, "")
	sa.Set("cart", 1)
	if err := ea.Save(ctx, sa); err != nil {
		t.Fatal(err)
	}
	id := sa.ID()
	if sb, _ := eb.Load(ctx, id); sb.ID() != id { // cached in b now
		t.Fatal("b does not see the session")
	}

	// a changes one key; b, reading its stale copy, changes another.
	sa2, _ := ea.Load(ctx, id)
	sa2.Set("cart", 2)
	if err := ea.Save(ctx, sa2); err != nil {
		t.Fatal(err)
	}
	sb, _ := eb.Load(ctx, id)
	if n, _ := sb.GetInt("cart"); n != 1 {
		t.Fatalf("b's cached view has cart = %d, want the stale 1", n)
	}
	sb.Set("theme", "dark")
	if err := eb.Save(ctx, sb); err != nil {
		t.Fatal(err)
	}
	merged, _ := eb.Load(ctx, id) // b's cache took the merged record
	if n, _ := merged.GetInt("cart"); n != 2 {
		t.Errorf("b's commit overwrote a's change: cart = %d, want 2", n)
	}
	if th, _ := merged.GetString("theme"); th != "dark" {
		t.Errorf("b's change was lost: theme = %q", th)
	}

	// a logs out, from its own stale copy; b still holds the session in its
	// cache, but its commit cannot bring it back.
	logout, _ := ea.Load(ctx, id)
	if logout.ID() != id {
		t.Fatal("a does not see the session")
	}
	if err := logout.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stale, _ := eb.Load(ctx, id)
	if stale.ID() != id {
		t.Fatal("b's cache no longer holds the session: the test proves nothing")
	}
	stale.Set("late", true)
	if err := eb.Save(ctx, stale); !errors.Is(err, session.ErrSessionInterrupted) {
		t.Fatalf("b's commit after a's logout = %v, want ErrSessionInterrupted", err)
	}
	// The failed commit dropped b's stale copy.
	if again, _ := eb.Load(ctx, id); again.ID() != "" {
		t.Error("b still serves the logged-out session after its commit failed")
	}
	wantNotFound(t, a, session.StoreKey(id))
}
