package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

func open(t testing.TB, opts *boltstore.Options) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := open(t, nil)
		return s
	})
}

func TestConformance_NoSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := open(t, &boltstore.Options{NoSync: true})
		return s
	})
}

func TestConformance_SharedDB(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "app.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	storetest.Run(t, func(t *testing.T) session.Store {
		n++ // a fresh pair of buckets per subtest
		s, err := boltstore.New(db, &boltstore.Options{Bucket: fmt.Sprint("app-sessions-", n)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if st := db.Stats(); st.TxStats.GetWrite() == 0 {
		t.Error("no writes reached the shared database")
	}
}

func TestNew_SeparateBucketsDoNotSeeEachOther(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "app.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := boltstore.New(db, &boltstore.Options{Bucket: "a"})
	b, _ := boltstore.New(db, &boltstore.Options{Bucket: "b"})
	ctx := context.Background()
	k := storetest.Key("x")
	if err := a.Save(ctx, k, session.Record{Data: []byte("a"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("bucket b sees bucket a's record: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The Store did not own the DB: it is still usable.
	if _, err := b.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("closing a New store closed the shared DB: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_SecondOpenerGetsErrLocked(t *testing.T) {
	_, path := open(t, nil)
	start := time.Now()
	_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name the file and say it is locked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("second Open hung")
	}
}

func TestOpen_DefaultPathUsesSessionFilePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "dir")
	t.Setenv("SESSION_FILE_PATH", dir)
	if got := boltstore.DefaultPath(); got != filepath.Join(dir, "sessions.db") {
		t.Fatalf("DefaultPath = %s", got)
	}
	s, err := boltstore.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(filepath.Join(dir, "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", di.Mode().Perm())
	}
}

func TestOpen_NotABoltFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := boltstore.Open(path, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "boltstore: open") {
		t.Fatalf("Open(garbage) = %v", err)
	}
}

func TestClosed_ReturnsErrClosed(t *testing.T) {
	s, _ := open(t, nil)
	s.Close()
	ctx := context.Background()
	k := storetest.Key("x")
	if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close = %v", err)
	}
	if err := s.Save(ctx, k, session.Record{Expires: time.Now().Add(time.Hour)}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close = %v", err)
	}
}

func TestDeleteExpired_UsesIndexAndBatches(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := clk.Now()
	s, _ := open(t, &boltstore.Options{Now: clk.Now, SweepBatch: 7})
	ctx := context.Background()
	for i := range 50 {
		exp := now.Add(time.Duration(i+1) * time.Minute)
		if err := s.Save(ctx, storetest.Key(fmt.Sprint(i)), session.Record{Data: []byte("x"), Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	// Rewriting a record with a later expiry leaves no stale index entry
	// that could delete it early.
	if err := s.Save(ctx, storetest.Key("0"), session.Record{Data: []byte("y"), Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(ctx); st.Records != 50 || st.Indexed != 50 {
		t.Fatalf("stats %+v, want 50 records and 50 index entries", st)
	}
	clk.Advance(20*time.Minute + time.Second) // records 1..19 expired
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 19 {
		t.Fatalf("DeleteExpired = %d, %v; want 19 over several batches of 7", n, err)
	}
	if _, err := s.Load(ctx, storetest.Key("0")); err != nil {
		t.Errorf("rewritten record was swept: %v", err)
	}
	if st, _ := s.Stats(ctx); st.Records != 31 || st.Indexed != 31 {
		t.Errorf("after sweep: %+v, want 31/31", st)
	}

	// A record expiring later in the current index slot is kept until its
	// exact expiry.
	soon := storetest.Key("soon")
	if err := s.Save(ctx, soon, session.Record{Data: []byte("z"), Expires: clk.Now().Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.DeleteExpired(ctx); n != 0 {
		t.Errorf("swept %d records that expire later in the current slot", n)
	}
	clk.Advance(30 * time.Second)
	if n, _ := s.DeleteExpired(ctx); n != 1 {
		t.Errorf("swept %d at the exact expiry, want 1", n)
	}
}

func TestUpdate_FailingMemberDoesNotSinkItsGroup(t *testing.T) {
	s, _ := open(t, nil)
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UpdateRecord(ctx, storetest.Key(fmt.Sprint(i)), func(session.Record, bool) (session.Record, error) {
				if i%4 == 0 {
					return session.Record{}, boom
				}
				return session.Record{Data: []byte{byte(i)}, Expires: time.Now().Add(time.Hour)}, nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		_, lerr := s.Load(ctx, storetest.Key(fmt.Sprint(i)))
		if i%4 == 0 {
			if !errors.Is(err, boom) || !errors.Is(lerr, session.ErrNotFound) {
				t.Errorf("%d: err %v, load %v; want boom and nothing written", i, err, lerr)
			}
		} else if err != nil || lerr != nil {
			t.Errorf("%d: err %v, load %v; want success", i, err, lerr)
		}
	}
}

func TestLoad_CorruptValueIsMissingAndLogged(t *testing.T) {
	s, _ := open(t, nil)
	k := storetest.Key("corrupt")
	err := s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("sessions")).Put([]byte(k), []byte{1, 2, 3})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load(corrupt) = %v, want ErrNotFound", err)
	}
	if err := s.Save(context.Background(), k, session.Record{Data: []byte("ok"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("Save over a corrupt value: %v", err)
	}
}

func TestEngine_OnBoltSurvivesReopen(t *testing.T) {
	s, path := open(t, nil)
	e, _ := session.New(s, nil)
	ctx := context.Background()
	sess, _ := e.Load(ctx, "")
	sess.Set("name", "Sonam")
	if err := e.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	e.Close()
	s.Close()
	s2, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	e2, _ := session.New(s2, nil)
	defer e2.Close()
	again, _ := e2.Load(ctx, sess.ID())
	if v, _ := again.GetString("name"); v != "Sonam" {
		t.Errorf("after reopen: %q", v)
	}
}
