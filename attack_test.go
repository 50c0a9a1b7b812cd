//go:build !nostores

// The nostores tag leaves out the tests that need the module's stores, for
// the fuzzing build of this package (scripts/test.sh).

package session_test

// Tests of the engine against stores whose lock waits honour the
// context. Each reproduces an attack or an unlucky operator's mistake and checks
// that it fails.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// pausingCodec is MsgpackCodec whose Merge, once armed, reports that it has
// produced its output and then waits before returning it: a stand-in for
// the scheduler pausing the committer goroutine at that point.
type pausingCodec struct {
	session.MsgpackCodec
	armed   atomic.Bool
	merged  chan struct{} // receives once Merge has written its output
	release chan struct{} // Merge returns once this is closed

	encodeArmed atomic.Bool
	encoded     chan struct{} // receives once an armed Encode has returned its output
}

func (c *pausingCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	out, err := c.MsgpackCodec.Encode(dst, values)
	if c.encodeArmed.CompareAndSwap(true, false) {
		c.encoded <- struct{}{}
	}
	return out, err
}

func (c *pausingCodec) Merge(dst, encoded []byte, values map[string]any, changed map[string]struct{}) ([]byte, error) {
	out, err := c.MsgpackCodec.Merge(dst, encoded, values, changed)
	if c.armed.CompareAndSwap(true, false) {
		c.merged <- struct{}{}
		<-c.release
	}
	return out, err
}

// TestEngine_BoltCommitPastItsDeadlineKeepsItsOwnBytes: with the bolt store,
// the engine's merge function runs in the group committer's goroutine. If
// Save returned when the request's context ended while that function ran,
// the engine would put its pooled encode buffer back while the function
// still wrote the record into it, and the next request's bytes would be
// committed under this session's key. Save waits for a write that has
// started, so each session keeps its own values.
func TestEngine_BoltCommitPastItsDeadlineKeepsItsOwnBytes(t *testing.T) {
	for attempt := 0; attempt < 20; attempt++ { // sync.Pool may drop a buffer (always, at random, under -race)
		leaked, waited := mergeLeakAttempt(t)
		if waited {
			return // Save waited for its started write: nothing to reuse early
		}
		if leaked != "" {
			t.Fatalf("attempt %d: victim's session now holds another visitor's value %q", attempt, leaked)
		}
	}
}

// mergeLeakAttempt returns the other visitor's value if the victim's
// session ended up with it, and whether the victim's Save waited for its
// started write instead of returning when its context ended.
func mergeLeakAttempt(t *testing.T) (leaked string, waited bool) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	codec := &pausingCodec{merged: make(chan struct{}), release: make(chan struct{}), encoded: make(chan struct{}, 1)}
	opts := session.DefaultOptions()
	opts.Codec = codec
	opts.SweepInterval = -1
	e, err := session.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bg := context.Background()
	victimValue := strings.Repeat("v", 40)
	secret := "SECRET-" + strings.Repeat("s", 33) // the same length

	// The victim's session exists.
	v, _ := e.Load(bg, "")
	v.Set("note", victimValue)
	if err := e.Save(bg, v); err != nil {
		t.Fatal(err)
	}
	id := v.ID()

	// The victim's next request changes it and leaves mid-commit.
	v, err = e.Load(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	v.Set("note", strings.Repeat("w", 40))
	ctx, cancel := context.WithCancel(bg)
	codec.armed.Store(true)
	saved := make(chan error, 1)
	go func() { saved <- e.Save(ctx, v) }()
	select {
	case <-codec.merged:
	case <-time.After(2 * time.Second):
		t.Fatal("merge never ran")
	}
	cancel()
	select {
	case err := <-saved:
		if !errors.Is(err, context.Canceled) {
			close(codec.release)
			t.Fatalf("victim's Save = %v, want context.Canceled", err)
		}
	case <-time.After(300 * time.Millisecond):
		// Save waits for the transaction its write has started in:
		// nothing of the caller's is in use after it returns.
		close(codec.release)
		if err := <-saved; err != nil {
			t.Fatalf("victim's Save, once its transaction ended = %v", err)
		}
		got, err := e.Load(bg, id)
		if note, _ := got.GetString("note"); err != nil || note != strings.Repeat("w", 40) {
			t.Fatalf("victim's session after its started write = %q, %v", note, err)
		}
		return "", true
	}

	// Another visitor's request saves a new session meanwhile. It encodes
	// at once, then queues behind the victim's group.
	o, _ := e.Load(bg, "")
	o.Set("note", secret)
	codec.encodeArmed.Store(true)
	otherSaved := make(chan error, 1)
	go func() { otherSaved <- e.Save(bg, o) }()
	<-codec.encoded
	defer func() {
		if err := <-otherSaved; err != nil {
			t.Error(err)
		}
	}()

	// The committer goes on with the victim's write.
	close(codec.release)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		got, err := e.Load(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		note, _ := got.GetString("note")
		switch {
		case strings.HasPrefix(note, "SECRET"):
			return note, false
		case note == strings.Repeat("w", 40):
			return "", false // the victim's own write: no leak this time
		}
		time.Sleep(time.Millisecond)
	}
	return "", false
}

// TestEngine_BoltCommitsUnderRandomDeadlinesStayApart: engine sessions on the
// bolt store, saved and merged by many goroutines whose contexts end at
// random moments (some while queued, some while their group commits),
// under -race: no data race, no deadlock, no leaked committer; every
// session that a Save reported saved loads with a value some request
// wrote to it; Close then returns promptly.
func TestEngine_BoltCommitsUnderRandomDeadlinesStayApart(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	opts.Logger = slog.New(slog.DiscardHandler)
	e, err := session.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	ids := make([]string, 8)
	for i := range ids {
		s, _ := e.Load(bg, "")
		s.Set("owner", fmt.Sprint(i))
		if err := e.Save(bg, s); err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID()
	}
	var wg sync.WaitGroup
	var saved, failed atomic.Int64
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 60 {
				i := rng.IntN(len(ids))
				ctx, cancel := context.WithTimeout(bg, time.Duration(rng.IntN(3000))*time.Microsecond)
				s, err := e.Load(ctx, ids[i])
				if err == nil && s.ID() != "" {
					s.Set(fmt.Sprint("k", rng.IntN(4)), strings.Repeat(fmt.Sprint(i), 1+rng.IntN(200)))
					if err := e.Save(ctx, s); err == nil {
						saved.Add(1)
					} else {
						failed.Add(1)
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	t.Logf("%d saves, %d failed with their deadline", saved.Load(), failed.Load())
	for i, id := range ids {
		s, err := e.Load(bg, id)
		if err != nil || s.ID() == "" {
			t.Fatalf("session %d lost: %v", i, err)
		}
		if owner, _ := s.GetString("owner"); owner != fmt.Sprint(i) {
			t.Fatalf("session %d now says owner %q", i, owner)
		}
		for k, v := range s.Items() {
			if str, ok := v.(string); ok && k != "owner" && strings.Trim(str, fmt.Sprint(i)) != "" {
				t.Fatalf("session %d holds %s=%q, written for another session", i, k, str)
			}
		}
	}
	closed := make(chan error, 1)
	go func() { e.Close(); closed <- st.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
}
