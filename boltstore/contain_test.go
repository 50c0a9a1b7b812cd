package boltstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
)

// TestStore_DamageAfterOpenFailsOnlyTheDamagedRecords overwrites a leaf of
// an open store's file, as another process scribbling on it would, and
// checks that the sessions on it fail with an error wrapping
// session.ErrCorrupt and a log line each, while the store goes on serving
// every other session, writes included.
func TestStore_DamageAfterOpenFailsOnlyTheDamagedRecords(t *testing.T) {
	fx := sharedFixture(t)
	path := fx.copyTo(t, t.TempDir())
	var logs testkit.LogBuffer
	s, err := boltstore.Open(path, &boltstore.Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	leaf, onLeaf := liveLeaf(t, fx, path, 4)
	zeroPage(t, path, leaf, fx.pageSize)

	ctx := t.Context()
	var damaged, elsewhere string
	for key, want := range fx.live {
		rec, err := s.Load(ctx, key)
		switch {
		case onLeaf[key]:
			damaged = key
			if !errors.Is(err, session.ErrCorrupt) {
				t.Errorf("Load of a session on the damaged page = %v; want an error wrapping session.ErrCorrupt", err)
			}
		case err != nil || string(rec.Data) != string(want.Data):
			t.Errorf("Load of a session elsewhere = %.20q, %v", rec.Data, err)
		default:
			elsewhere = key
		}
	}
	if n := strings.Count(logs.String(), "damaged database file"); n != len(onLeaf) {
		t.Errorf("%d log lines for %d failed loads:\n%s", n, len(onLeaf), logs.String())
	}

	rec := session.Record{Data: []byte("new"), Expires: time.Now().Add(time.Hour)}
	if err := s.Save(ctx, damaged, rec); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Save into the damaged page = %v; want an error wrapping session.ErrCorrupt", err)
	}
	if err := s.Save(ctx, elsewhere, rec); err != nil {
		t.Errorf("Save elsewhere = %v", err)
	}
	if got, err := s.Load(ctx, elsewhere); err != nil || string(got.Data) != "new" {
		t.Errorf("Load after Save elsewhere = %q, %v", got.Data, err)
	}
	if err := s.Range(ctx, func(string, session.Record) bool { return true }); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Range over the damaged page = %v; want an error wrapping session.ErrCorrupt", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
