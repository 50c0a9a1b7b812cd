package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
	"github.com/sessionkv/session/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if filled.dir != "" {
		os.RemoveAll(filled.dir)
	}
	sqltest.StopShared()
	os.Exit(code)
}

// engine is one server engine of the tests.
type engine struct {
	name   string
	shared func(testing.TB) *sqltest.Server
	start  func(testing.TB) *sqltest.Server
}

var engines = []engine{
	{"PostgreSQL", sqltest.SharedPostgres, sqltest.StartPostgres},
	{"MySQL", sqltest.SharedMySQL, sqltest.StartMySQL},
}

// openURL opens a store on url, closed by t.Cleanup.
func openURL(t testing.TB, url string, opts *sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance_Servers(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			url := e.shared(t).NewDatabase(t)
			var n atomic.Int64
			storetest.Run(t, func(t *testing.T) session.Store {
				return openURL(t, url, &sqlstore.Options{Table: fmt.Sprint("s", n.Add(1))})
			})
		})
	}
}

// TestUpdateRecord_AcrossStores: two Stores on one database, as two hosts
// would have, increment one counter from many goroutines each; the
// compare-and-set loses none of the increments.
func TestUpdateRecord_AcrossStores(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			url := e.shared(t).NewDatabase(t)
			a, b := openURL(t, url, nil), openURL(t, url, nil)
			const perStore, each = 16, 10
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err := testkit.InParallel(2*perStore, 2*perStore*each, func(i int) error {
				s := a
				if i%2 == 1 {
					s = b
				}
				return increment(ctx, s)
			})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := a.Load(ctx, counterKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := strconv.Itoa(2 * perStore * each); string(rec.Data) != want {
				t.Fatalf("counter = %s; want %s", rec.Data, want)
			}
		})
	}
}

// TestUpdateRecord_StaleGuess: a Load's hint that another Store has made
// stale costs a read, never a lost write; a record deleted elsewhere after
// the Load is seen as gone.
func TestUpdateRecord_StaleGuess(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			url := e.shared(t).NewDatabase(t)
			a, b := openURL(t, url, nil), openURL(t, url, nil)
			ctx := t.Context()
			k := storetest.Key("stale")
			exp := time.Now().Add(time.Hour)
			mustSave(t, a, k, session.Record{Data: []byte("1"), Expires: exp})
			if _, err := a.Load(ctx, k); err != nil {
				t.Fatal(err)
			}
			mustSave(t, b, k, session.Record{Data: []byte("2"), Expires: exp})
			var seen []string
			err := a.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
				seen = append(seen, string(cur.Data))
				return session.Record{Data: append([]byte(nil), append(cur.Data, '+')...), Expires: exp}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rec, _ := b.Load(ctx, k); string(rec.Data) != "2+" {
				t.Fatalf("after an update from a stale guess: %q (fn saw %q); want \"2+\"", rec.Data, seen)
			}
			// Deleted by b after a's Load: a's update must see it gone,
			// and an error from fn leaves it gone.
			if _, err := a.Load(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := b.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			err = a.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
				if !found {
					return session.Record{}, session.ErrSessionInterrupted
				}
				return session.Record{Data: []byte("resurrected"), Expires: exp}, nil
			})
			if !errors.Is(err, session.ErrSessionInterrupted) {
				t.Fatalf("update of a record deleted elsewhere = %v; want the function's ErrSessionInterrupted", err)
			}
			if _, err := b.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("the deleted record came back: %v", err)
			}
		})
	}
}

// TestFault_ServerKilledAndRestarted: under load, the server is killed:
// every call returns an error within its deadline, none hangs; once the
// server is back, the same Store works again.
func TestFault_ServerKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers of its own")
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := e.start(t)
			url := srv.NewDatabase(t)
			s := openURL(t, url, nil)
			var stop atomic.Bool
			var ok, failed atomic.Int64
			var wg sync.WaitGroup
			var hung atomic.Int64
			for w := range 8 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						start := time.Now()
						err := increment(ctx, s)
						if err == nil {
							_, err = s.Load(ctx, storetest.Key(fmt.Sprint(w, "-", i)))
							if errors.Is(err, session.ErrNotFound) {
								err = nil
							}
						}
						cancel()
						if time.Since(start) > 5*time.Second {
							hung.Add(1)
						}
						if err != nil {
							failed.Add(1)
							time.Sleep(10 * time.Millisecond)
						} else {
							ok.Add(1)
						}
					}
				})
			}
			time.Sleep(300 * time.Millisecond)
			srv.Kill()
			time.Sleep(500 * time.Millisecond)
			failedWhileDown := failed.Load()
			srv.Restart()
			// Back: some calls must succeed again within a few seconds.
			before := ok.Load()
			deadline := time.Now().Add(15 * time.Second)
			for ok.Load() < before+50 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			stop.Store(true)
			wg.Wait()
			if failedWhileDown == 0 {
				t.Errorf("no call failed while the server was down")
			}
			if ok.Load() < before+50 {
				t.Errorf("the store did not recover: %d calls succeeded after the restart", ok.Load()-before)
			}
			if hung.Load() > 0 {
				t.Errorf("%d calls took longer than 5s with a 2s deadline", hung.Load())
			}
		})
	}
}

// TestFault_HungServer: a server that stops answering (SIGSTOP) makes calls
// fail when their deadline passes, with the context's error.
func TestFault_HungServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers of its own")
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := e.start(t)
			s := openURL(t, srv.NewDatabase(t), nil)
			k := storetest.Key("hung")
			mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
			srv.Pause(t)
			defer srv.Resume()
			for name, call := range map[string]func(context.Context) error{
				"Load": func(ctx context.Context) error { _, err := s.Load(ctx, k); return err },
				"Save": func(ctx context.Context) error {
					return s.Save(ctx, k, session.Record{Data: []byte("y"), Expires: time.Now().Add(time.Hour)})
				},
				"UpdateRecord": func(ctx context.Context) error { return increment(ctx, s) },
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				start := time.Now()
				err := call(ctx)
				cancel()
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("%s on a hung server took %v with a 300ms deadline", name, took)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s on a hung server = %v; want context.DeadlineExceeded", name, err)
				}
			}
			srv.Resume()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for {
				_, err := s.Load(ctx, k)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("the store did not recover after the server resumed: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestOpen_ServerErrors: a server that is not there, a wrong database, a
// missing table with NoCreate: clear errors from Open, without the URL's
// password.
func TestOpen_ServerErrors(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := e.shared(t)
			scheme := map[string]string{"PostgreSQL": "postgres", "MySQL": "mysql"}[e.name]
			down := scheme + "://app:s3cret@127.0.0.1:1/app?connect_timeout=2&timeout=2s"
			if _, err := sqlstore.Open(down, nil); err == nil || !strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Open of a closed port = %v; want a connect error without the password", err)
			}
			url := srv.NewDatabase(t)
			missing := strings.Replace(url, "/t_", "/missing_", 1)
			if _, err := sqlstore.Open(missing, nil); err == nil {
				t.Errorf("Open of a database that does not exist succeeded")
			}
			if _, err := sqlstore.Open(url, &sqlstore.Options{NoCreate: true}); !errors.Is(err, sqlstore.ErrNoTable) {
				t.Errorf("Open with NoCreate and no table = %v; want ErrNoTable", err)
			}
		})
	}
}
