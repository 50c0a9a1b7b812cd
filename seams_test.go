package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
)

// plainIDs is an IDScheme of another program: 32 lowercase letters, stored
// as they are.
type plainIDs struct{ n *atomic.Int64 }

func (p plainIDs) NewID() string           { return fmt.Sprintf("%032d", p.n.Add(1)) }
func (plainIDs) ValidID(id string) bool    { return len(id) == 32 && strings.Trim(id, "0123456789") == "" }
func (plainIDs) StoreKey(id string) string { return id }

// jsonRecords is a RecordCodec and OwnerCodec of another program's format:
// one JSON object, the expiry under "_expiry" (seconds; 0 for browser
// close), the owner under "_owner".
type jsonRecords struct{}

func (jsonRecords) Encode(dst []byte, values map[string]any) ([]byte, error) {
	return (session.JSONCodec{}).Encode(dst, values)
}

func (jsonRecords) Decode(data []byte) (map[string]any, error) {
	return (session.JSONCodec{}).Decode(data)
}

func (c jsonRecords) EncodeRecord(dst []byte, values map[string]any, exp session.Expiry) ([]byte, error) {
	m := make(map[string]any, len(values)+1)
	for k, v := range values {
		m[k] = v
	}
	switch exp.Kind {
	case session.ExpiryMaxAge:
		m["_expiry"] = int64(exp.MaxAge / time.Second)
	case session.ExpiryBrowserClose:
		m["_expiry"] = int64(0)
	case session.ExpiryAt:
		return nil, errors.New("absolute expiry not in this format")
	}
	b, err := json.Marshal(m)
	return append(dst, b...), err
}

func (c jsonRecords) DecodeRecord(data []byte) (map[string]any, session.Expiry, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, session.Expiry{}, fmt.Errorf("%w: %v", session.ErrCorrupt, err)
	}
	exp := session.Expiry{}
	if v, ok := m["_expiry"]; ok {
		n, _ := v.(json.Number).Int64()
		exp = session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: time.Duration(n) * time.Second}
		if n == 0 {
			exp = session.Expiry{Kind: session.ExpiryBrowserClose}
		}
		delete(m, "_expiry")
	}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			m[k], _ = n.Int64()
		}
	}
	return m, exp, nil
}

func (jsonRecords) Owner(values map[string]any) string {
	s, _ := values["_owner"].(string)
	return s
}

func newSeamEngine(t *testing.T, store session.Store) *session.Engine {
	t.Helper()
	o := session.DefaultOptions()
	o.Codec, o.IDs, o.SweepInterval = jsonRecords{}, plainIDs{new(atomic.Int64)}, -1
	e, err := session.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestSeams_AnotherProgramsFormat: with an IDScheme and a RecordCodec of
// another program, the engine stores exactly that program's record under
// the raw ID, reads back what that program wrote, keeps expiry choices in
// the record, and takes the owner from the values.
func TestSeams_AnotherProgramsFormat(t *testing.T) {
	store := memstore.New()
	e := newSeamEngine(t, store)
	ctx := context.Background()

	s, _ := e.Load(ctx, "")
	s.Set("n", 1)
	s.Set("_owner", "42")
	s.SetMaxAge(90 * time.Second)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(s.ID()) != 32 {
		t.Fatalf("ID %q; want the scheme's 32 digits", s.ID())
	}
	rec, err := store.Load(ctx, s.ID())
	if err != nil {
		t.Fatalf("record not under the raw ID: %v", err)
	}
	if got := string(rec.Data); got != `{"_expiry":90,"_owner":"42","n":1}` {
		t.Errorf("stored %s; want the format's own record, no envelope", got)
	}
	if rec.UserID != "42" || s.UserID() != "42" {
		t.Errorf("owner %q (session says %q); want the values' 42", rec.UserID, s.UserID())
	}

	// A record the other program wrote loads, expiry choice included.
	other := `{"_expiry":0,"_owner":"7","from":"other"}`
	id := fmt.Sprintf("%032d", 999)
	if err := store.Save(ctx, id, session.Record{Data: []byte(other), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Load(ctx, id)
	if v, _ := got.GetString("from"); v != "other" || got.UserID() != "7" || !got.ExpireAtBrowserClose() {
		t.Errorf("loaded %v (owner %q, browser close %v); want what the other program wrote", got.Items(), got.UserID(), got.ExpireAtBrowserClose())
	}
	if got.Has("_expiry") {
		t.Error("the format's expiry key shows among the values")
	}

	// A cookie of the engine's own shape is not this scheme's.
	if s, _ := e.Load(ctx, strings.Repeat("A", 43)); s.ID() != "" {
		t.Errorf("a foreign-shaped ID loaded a session")
	}

	// Concurrent requests on one session merge through the format.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s, _ := e.Load(ctx, id)
			s.Set(fmt.Sprint("k", i), i)
			if err := e.Save(ctx, s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ = e.Load(ctx, id)
	for i := range 8 {
		if !got.Has(fmt.Sprint("k", i)) {
			t.Errorf("k%d lost in a merge: %v", i, got.Keys())
		}
	}
	if v, _ := got.GetString("from"); v != "other" || !got.ExpireAtBrowserClose() {
		t.Errorf("a merge lost the other program's data or expiry: %v", got.Items())
	}

	// The owner from the values is the one the user index finds.
	n, err := e.DeleteUser(ctx, "7")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUser(7) = %d, %v; want 1", n, err)
	}
	if got, _ := e.Load(ctx, id); got.ID() != "" {
		t.Error("the session of user 7 survived DeleteUser")
	}

	// CycleKey issues an ID of the scheme and moves the record.
	s, _ = e.Load(ctx, s.ID())
	old := s.ID()
	if err := s.CycleKey(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ID() == old || len(s.ID()) != 32 {
		t.Errorf("CycleKey gave %q after %q", s.ID(), old)
	}
	if _, err := store.Load(ctx, s.ID()); err != nil {
		t.Errorf("the cycled session is not under its new raw ID: %v", err)
	}
}

// TestSeams_CorruptRecordIsANewSession: a record the format cannot read is
// a new empty session, as with the engine's own format.
func TestSeams_CorruptRecordIsANewSession(t *testing.T) {
	store := memstore.New()
	e := newSeamEngine(t, store)
	ctx := context.Background()
	id := fmt.Sprintf("%032d", 5)
	if err := store.Save(ctx, id, session.Record{Data: []byte("{not json"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Load(ctx, id)
	if err != nil || s.ID() != "" || s.Len() != 0 {
		t.Fatalf("Load of a corrupt record = %q with %d keys, %v; want a new empty session", s.ID(), s.Len(), err)
	}
}
