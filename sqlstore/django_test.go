package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/sqlstore"
)

// djangoStores opens a DjangoStore on each engine for t; a second one on
// the same table comes from reopen.
func djangoStores(t *testing.T) map[string]func(t *testing.T) *sqlstore.DjangoStore {
	t.Helper()
	out := map[string]func(t *testing.T) *sqlstore.DjangoStore{}
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	out["SQLite"] = func(t *testing.T) *sqlstore.DjangoStore { return openDjango(t, "sqlite:"+path) }
	for _, e := range engines {
		var url string
		out[e.name] = func(t *testing.T) *sqlstore.DjangoStore {
			if url == "" {
				url = e.shared(t).NewDatabase(t)
			}
			return openDjango(t, url)
		}
	}
	return out
}

func openDjango(t *testing.T, url string) *sqlstore.DjangoStore {
	t.Helper()
	s, err := sqlstore.OpenDjango(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// djangoKey returns a Django-shaped session key (32 of [a-z0-9]).
func djangoKey(name string) string {
	return fmt.Sprintf("%032s", strings.ToLower(strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return 'x'
	}, name)))[:32]
}

// TestDjangoStore_Contract: the Store contract on Django's table, on each
// engine: round trip (expiry to the millisecond, no owner kept), expiry,
// delete, sweep, range, count, keys of Django's length only.
func TestDjangoStore_Contract(t *testing.T) {
	for name, open := range djangoStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := t.Context()
			now := time.Now()
			live := now.Add(time.Hour).Truncate(time.Millisecond)
			k := djangoKey("live")
			if err := s.Save(ctx, k, session.Record{Data: []byte("eyJhIjoxfQ:1vb66i:sig"), Expires: live, UserID: "42"}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx, k)
			if err != nil || string(got.Data) != "eyJhIjoxfQ:1vb66i:sig" || !got.Expires.Equal(live) || got.UserID != "" {
				t.Fatalf("Load = %q, %v, owner %q, %v; want the data, %v, no owner", got.Data, got.Expires, got.UserID, err, live)
			}
			for i := range 3 {
				if err := s.Save(ctx, djangoKey(fmt.Sprint("old", i)), session.Record{Data: []byte("old"), Expires: now.Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Load(ctx, djangoKey("old0")); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Load of an expired session = %v; want ErrNotFound", err)
			}
			var liveKeys, expired []string
			s.Range(ctx, func(key string, _ session.Record) bool { liveKeys = append(liveKeys, key); return true })
			s.RangeExpired(ctx, func(key string, _ session.Record) bool { expired = append(expired, key); return true })
			if len(liveKeys) != 1 || len(expired) != 3 {
				t.Errorf("Range %d, RangeExpired %d; want 1 and 3", len(liveKeys), len(expired))
			}
			if n, err := s.Count(ctx); n != 4 || err != nil {
				t.Errorf("Count = %d, %v; want 4", n, err)
			}
			if n, err := s.DeleteExpired(ctx); n != 3 || err != nil {
				t.Errorf("DeleteExpired = %d, %v; want 3", n, err)
			}
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Load after Delete = %v", err)
			}
			if err := s.Save(ctx, strings.Repeat("a", 41), session.Record{Data: []byte("x"), Expires: live}); !errors.Is(err, sqlstore.ErrInvalidKey) {
				t.Errorf("Save of a 41-character key = %v; want ErrInvalidKey", err)
			}
		})
	}
}

// TestDjangoStore_UpdateRecordAcrossStores: two stores on one table (two
// hosts) increment one counter; comparing session_data loses none.
func TestDjangoStore_UpdateRecordAcrossStores(t *testing.T) {
	for name, open := range djangoStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t), open(t)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			k := djangoKey("counter")
			const n = 80
			err := testkit.InParallel(16, n, func(i int) error {
				s := a
				if i%2 == 1 {
					s = b
				}
				return s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
					v := 0
					if found {
						v, _ = strconv.Atoi(strings.SplitN(string(cur.Data), ":", 2)[0])
					}
					// Every write differs, as Django's signed data does.
					return session.Record{Data: fmt.Appendf(nil, "%d:%d", v+1, i), Expires: time.Now().Add(time.Hour)}, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := a.Load(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.SplitN(string(rec.Data), ":", 2)[0]; got != strconv.Itoa(n) {
				t.Fatalf("counter %s after %d increments", got, n)
			}
		})
	}
}

// TestDjangoStore_ReadsDjangosRows: a row as Django's SQLite backend writes
// it (expire_date as Python's str() of a UTC datetime) loads with its
// expiry, and one that Django would find expired does not.
func TestDjangoStore_ReadsDjangosRows(t *testing.T) {
	s := openDjango(t, "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite3"))
	exp := time.Now().UTC().Add(time.Hour).Truncate(time.Second).Add(123456 * time.Microsecond)
	for key, when := range map[string]string{
		djangoKey("micro"): exp.Format("2006-01-02 15:04:05.000000"),
		djangoKey("whole"): exp.Truncate(time.Second).Format(time.DateTime),
		djangoKey("gone"):  time.Now().UTC().Add(-time.Second).Format(time.DateTime),
	} {
		if _, err := s.DB().Exec(`INSERT INTO django_session VALUES (?, ?, ?)`, key, "data-"+key[:4], when); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(t.Context(), djangoKey("micro"))
	if err != nil || !got.Expires.Equal(exp.Truncate(time.Millisecond)) {
		t.Errorf("Load = %v, %v; want expiry %v", got.Expires, err, exp)
	}
	if got, err := s.Load(t.Context(), djangoKey("whole")); err != nil || !got.Expires.Equal(exp.Truncate(time.Second)) {
		t.Errorf("Load = %v, %v; want expiry %v", got.Expires, err, exp.Truncate(time.Second))
	}
	if _, err := s.Load(t.Context(), djangoKey("gone")); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load of a row Django finds expired = %v", err)
	}
}

func TestDjangoSchema(t *testing.T) {
	ddl, err := sqlstore.DjangoSchema(sqlstore.PostgreSQL, "")
	if err != nil || !strings.Contains(ddl, `"django_session_expire_date_a5c62663"`) {
		t.Errorf("DjangoSchema = %q, %v", ddl, err)
	}
}

// TestDjangoStore_StaleGuessIsConfirmed: an error from the update function,
// computed from what a Load read, stands only once a read confirms the
// row is unchanged; Django's table has no token, so the data is compared.
func TestDjangoStore_StaleGuessIsConfirmed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			url := e.shared(t).NewDatabase(t)
			a, b := openDjango(t, url), openDjango(t, url)
			ctx := t.Context()
			k := djangoKey("stale")
			exp := time.Now().Add(time.Hour)
			if err := a.Save(ctx, k, session.Record{Data: []byte("old"), Expires: exp}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Load(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := b.Save(ctx, k, session.Record{Data: []byte("new"), Expires: exp}); err != nil {
				t.Fatal(err)
			}
			errOld := errors.New("saw the old data")
			err := a.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
				if string(cur.Data) == "old" {
					return session.Record{}, errOld
				}
				return session.Record{Data: []byte("new+"), Expires: exp}, nil
			})
			if err != nil {
				t.Fatalf("UpdateRecord = %v; want the function run again on the row b wrote", err)
			}
			if rec, _ := b.Load(ctx, k); string(rec.Data) != "new+" {
				t.Errorf("stored %q; want new+", rec.Data)
			}
		})
	}
}
