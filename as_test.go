package session_test

import (
	"context"
	"testing"

	"github.com/sessionkv/session"
)

// plainStore has only the Store methods.
type plainStore struct{}

func (plainStore) Load(context.Context, string) (session.Record, error) {
	return session.Record{}, session.ErrNotFound
}
func (plainStore) Save(context.Context, string, session.Record) error { return nil }
func (plainStore) Delete(context.Context, string) error               { return nil }

// sweepingStore adds Sweeper.
type sweepingStore struct{ plainStore }

func (sweepingStore) DeleteExpired(context.Context) (int, error) { return 0, nil }

// wrapper claims Sweeper whatever it wraps, as a cache in front of a store
// does.
type wrapper struct {
	sweepingStore
	inner session.Store
}

func (w wrapper) Unwrap() session.Store { return w.inner }

func TestAs_LooksThroughWrappers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store session.Store
		want  bool
	}{
		{"PlainStore", plainStore{}, false},
		{"SweepingStore", sweepingStore{}, true},
		{"WrapperOfPlain", wrapper{inner: plainStore{}}, false},
		{"WrapperOfSweeping", wrapper{inner: sweepingStore{}}, true},
		{"WrapperOfWrapperOfPlain", wrapper{inner: wrapper{inner: plainStore{}}}, false},
		{"WrapperOfWrapperOfSweeping", wrapper{inner: wrapper{inner: sweepingStore{}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := session.As[session.Sweeper](tc.store); ok != tc.want {
				t.Errorf("As[Sweeper] = %v, want %v", ok, tc.want)
			}
			if _, ok := session.As[session.Updater](tc.store); ok {
				t.Error("As[Updater] found a capability nothing implements")
			}
		})
	}
}

func TestValidStoreKey(t *testing.T) {
	if !session.ValidStoreKey(session.StoreKey("x")) {
		t.Error("StoreKey's output is not a valid store key")
	}
	for _, k := range []string{"", "abc", session.StoreKey("x")[:63], session.StoreKey("x") + "0",
		"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", "../../../../etc/passwd"} {
		if session.ValidStoreKey(k) {
			t.Errorf("ValidStoreKey(%q) = true", k)
		}
	}
}
