package sqlstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/storetest"
)

// TestSweep_WithinTheMinute: the sweeper's index holds each row under its
// expiry's minute, so the current minute mixes expired and live rows.
// DeleteExpired deletes every expired row, of past minutes, of the
// current one, and from before 1970 and the end of time, and no live one,
// even when the live rows of the current minute outnumber a batch.
func TestSweep_WithinTheMinute(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		minute := time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)
		now := minute.Add(30 * time.Second)
		s := openURL(t, url, &sqlstore.Options{SweepBatch: 3, Now: func() time.Time { return now }})
		expired := map[string]time.Time{
			"epoch-less":  time.UnixMilli(-1500),
			"far-past":    time.Date(-300000000, 1, 1, 0, 0, 0, 0, time.UTC), // before an int64 of ms
			"last-minute": minute.Add(-time.Millisecond),
			"minute":      minute,
			"now":         now,
		}
		for i := range 10 {
			expired[fmt.Sprint("in-minute-", i)] = minute.Add(time.Duration(i) * time.Second)
		}
		live := map[string]time.Time{"next-minute": minute.Add(time.Minute), "end-of-time": time.Date(300000000, 1, 1, 0, 0, 0, 0, time.UTC)}
		for i := range 10 {
			live[fmt.Sprint("live-in-minute-", i)] = now.Add(time.Duration(i+1) * time.Second)
		}
		for _, set := range []map[string]time.Time{expired, live} {
			for k, exp := range set {
				mustSave(t, s, storetest.Key(k), session.Record{Data: []byte(k), Expires: exp})
			}
		}
		n, err := s.DeleteExpired(t.Context())
		if err != nil || n != len(expired) {
			t.Errorf("DeleteExpired = %d, %v; want %d", n, err, len(expired))
		}
		left := map[string]bool{}
		err = s.RangeExpired(t.Context(), func(key string, rec session.Record) bool {
			left[string(rec.Data)] = true
			return true
		})
		if err != nil || len(left) != 0 {
			t.Errorf("expired rows left after the sweep: %v, %v", left, err)
		}
		for k := range live {
			if rec, err := s.Load(t.Context(), storetest.Key(k)); err != nil || string(rec.Data) != k {
				t.Errorf("live session %s after the sweep: %q, %v", k, rec.Data, err)
			}
		}
	})
}

// TestSweep_IndexStaysPut: a write that moves the expiry within its
// minute leaves sweep_ms, the sweeper's indexed column, as it was; a write
// that moves it to another minute moves sweep_ms there. sweep_ms is the
// expiry rounded down to the minute, as Schema documents.
func TestSweep_IndexStaysPut(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		minute := time.Now().Add(time.Hour).Truncate(time.Minute)
		k := storetest.Key("k")
		sweepAt := func() time.Time {
			t.Helper()
			var v int64
			if err := s.DB().QueryRow(sqlstore.Bind(s.Dialect(), `SELECT sweep_ms FROM sessions WHERE session_key = ?`), k).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return time.UnixMilli(v).UTC()
		}
		for i, exp := range []time.Duration{0, 10 * time.Second, 59999 * time.Millisecond} {
			mustSave(t, s, k, session.Record{Data: []byte("v"), Expires: minute.Add(exp)})
			if got := sweepAt(); !got.Equal(minute) {
				t.Fatalf("write %d, expiring %v after the minute: sweep_ms = %v; want %v", i, exp, got, minute.UTC())
			}
		}
		err := s.UpdateRecord(t.Context(), k, func(rec session.Record, _ bool) (session.Record, error) {
			rec.Expires = minute.Add(time.Minute + time.Second)
			return rec, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sweepAt(), minute.Add(time.Minute).UTC(); !got.Equal(want) {
			t.Errorf("after an update into the next minute: sweep_ms = %v; want %v", got, want)
		}
	})
}

// TestSweep_HeapOnlyUpdates: on PostgreSQL, request after request that
// extend a session's expiry within its minute update the row in place
// (heap-only tuple updates, which add no index entries), as the sweeper's
// coarse index is there for; an update into another minute does not.
func TestSweep_HeapOnlyUpdates(t *testing.T) {
	srv := engines[0].shared(t)
	db := srv.Open(t, srv.CreateDatabase(t))
	db.SetMaxOpenConns(1) // the statistics below are the connection's own until flushed
	s, err := sqlstore.New(db, sqlstore.PostgreSQL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stats := func() (upd, hot int64) {
		t.Helper()
		if _, err := db.Exec(`SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		err := db.QueryRow(`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'sessions'`).Scan(&upd, &hot)
		if err != nil {
			t.Fatal(err)
		}
		return upd, hot
	}
	ctx := t.Context()
	k := storetest.Key("k")
	minute := time.Now().Add(time.Hour).Truncate(time.Minute)
	mustSave(t, s, k, session.Record{Data: []byte("0"), Expires: minute})
	upd0, hot0 := stats()
	const n = 20
	for i := range n {
		if _, err := s.Load(ctx, k); err != nil {
			t.Fatal(err)
		}
		err := s.UpdateRecord(ctx, k, func(rec session.Record, _ bool) (session.Record, error) {
			return session.Record{Data: []byte(fmt.Sprint(i)), Expires: minute.Add(time.Duration(i+1) * time.Second)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	upd, hot := stats()
	if upd-upd0 != n || hot-hot0 != n {
		t.Errorf("%d updates within the expiry's minute: %d updated, %d of them in place; want all %d in place", n, upd-upd0, hot-hot0, n)
	}
	mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: minute.Add(2 * time.Minute)})
	if upd2, hot2 := stats(); upd2 != upd+1 || hot2 != hot {
		t.Errorf("an update into another minute: %d updated, %d in place; want 1 updated, not in place", upd2-upd, hot2-hot)
	}
}

// TestOpen_TableOfAnotherShape: a table named as the store's but without
// one of its columns is refused by Open, with or without NoCreate, with an
// error that points at Schema; nothing in it is touched.
func TestOpen_TableOfAnotherShape(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		db := s.DB()
		blob := map[sqlstore.Dialect]string{sqlstore.SQLite: "BLOB", sqlstore.PostgreSQL: "BYTEA", sqlstore.MySQL: "LONGBLOB"}[s.Dialect()]
		for _, stmt := range []string{
			`CREATE TABLE other_sessions (session_key VARCHAR(255) NOT NULL PRIMARY KEY, data ` + blob + ` NOT NULL, expires_ms BIGINT NOT NULL)`,
			`INSERT INTO other_sessions VALUES ('k', 'v', 0)`,
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		for _, noCreate := range []bool{false, true} {
			other, err := sqlstore.Open(withTable(url, "other_sessions"), &sqlstore.Options{NoCreate: noCreate})
			if err == nil {
				other.Close()
				t.Fatalf("Open (NoCreate %v) of a table without user_id, token and sweep_ms succeeded", noCreate)
			}
			if msg := err.Error(); !strings.Contains(msg, "lacks a column") || !strings.Contains(msg, "Schema") || errors.Is(err, sqlstore.ErrNoTable) {
				t.Errorf("Open (NoCreate %v) = %v; want an error saying a column is missing, pointing at Schema, not ErrNoTable", noCreate, err)
			}
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM other_sessions`).Scan(&n); err != nil || n != 1 {
			t.Errorf("the table holds %d rows, %v; want its 1", n, err)
		}
	})
}

// TestUpgrade_TableOfTheEarlierShape: a table as Schema made it before
// sweep_ms (indexed on expires_ms) is refused by Open, with or without
// NoCreate, with an error that gives Upgrade's statements; once they have
// run, Open takes it, its sessions load, the sweeper finds the expired
// ones through the new index, and the index on expires_ms is gone.
func TestUpgrade_TableOfTheEarlierShape(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		scratch := openURL(t, withTable(url, "scratch"), nil)
		db, d := scratch.DB(), scratch.Dialect()
		for _, stmt := range earlierSchema(d) {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		ctx := t.Context()
		data, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, map[string]any{"n": int64(1)})
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]int64{"live": time.Now().Add(time.Hour).UnixMilli(), "expired": time.Now().Add(-time.Hour).UnixMilli(), "before-1970": -1500}
		insert := sqlstore.Bind(d, `INSERT INTO sessions (session_key, data, expires_ms, user_id, token) VALUES (?, ?, ?, ?, 1)`)
		for k, exp := range rows {
			if _, err := db.Exec(insert, storetest.Key(k), data, exp, []byte{}); err != nil {
				t.Fatal(err)
			}
		}
		upgrade, err := sqlstore.Upgrade(d, "")
		if err != nil {
			t.Fatal(err)
		}
		stmts := strings.Split(strings.TrimSuffix(strings.TrimSpace(upgrade), ";"), ";\n")
		for _, noCreate := range []bool{false, true} {
			s, err := sqlstore.Open(url, &sqlstore.Options{NoCreate: noCreate})
			if err == nil {
				s.Close()
				t.Fatalf("Open (NoCreate %v) of the earlier shape succeeded", noCreate)
			}
			if msg := err.Error(); !strings.Contains(msg, "Upgrade") || !strings.Contains(msg, strings.Join(stmts, "; ")) {
				t.Errorf("Open (NoCreate %v) = %v; want it to give Upgrade's statements:\n%s", noCreate, err, upgrade)
			}
		}
		for _, stmt := range stmts {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		s := openURL(t, url, nil)
		if rec, err := s.Load(ctx, storetest.Key("live")); err != nil || !bytes.Equal(rec.Data, data) {
			t.Errorf("Load of the live session after the upgrade = %x, %v", rec.Data, err)
		}
		if n, err := s.DeleteExpired(ctx); err != nil || n != 2 {
			t.Errorf("DeleteExpired after the upgrade = %d, %v; want the 2 expired", n, err)
		}
		if n := countIndexes(t, s, "sessions_expires"); n != 0 {
			t.Errorf("the index on expires_ms is still there after the upgrade")
		}
		if n := countIndexes(t, s, "sessions_sweep"); n != 1 {
			t.Errorf("%d indexes called sessions_sweep after the upgrade; want 1", n)
		}
	})
}

// earlierSchema is Schema's table before sweep_ms, in d.
func earlierSchema(d sqlstore.Dialect) []string {
	switch d {
	case sqlstore.SQLite:
		return []string{
			`CREATE TABLE sessions (session_key TEXT NOT NULL PRIMARY KEY, data BLOB NOT NULL, expires_ms INTEGER NOT NULL, user_id BLOB NOT NULL DEFAULT x'', token INTEGER NOT NULL)`,
			`CREATE INDEX sessions_expires ON sessions (expires_ms)`,
			`CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id <> x''`,
		}
	case sqlstore.PostgreSQL:
		return []string{
			`CREATE TABLE sessions (session_key VARCHAR(255) NOT NULL PRIMARY KEY, data BYTEA NOT NULL, expires_ms BIGINT NOT NULL, user_id BYTEA NOT NULL DEFAULT '', token BIGINT NOT NULL)`,
			`CREATE INDEX sessions_expires ON sessions (expires_ms)`,
			`CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id <> ''`,
		}
	}
	return []string{`CREATE TABLE sessions (session_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
		data LONGBLOB NOT NULL, expires_ms BIGINT NOT NULL, user_id VARBINARY(1024) NOT NULL DEFAULT '', token BIGINT NOT NULL,
		KEY sessions_expires (expires_ms), KEY sessions_user (user_id)) ENGINE=InnoDB`}
}

// countIndexes returns how many indexes called name the store's database
// holds.
func countIndexes(t *testing.T, s *sqlstore.Store, name string) int {
	t.Helper()
	q := map[sqlstore.Dialect]string{
		sqlstore.SQLite:     `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?`,
		sqlstore.PostgreSQL: `SELECT COUNT(*) FROM pg_indexes WHERE indexname = $1`,
		sqlstore.MySQL:      `SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = ?`,
	}[s.Dialect()]
	var n int
	if err := s.DB().QueryRow(q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// withTable is url with its table parameter set to table.
func withTable(url, table string) string {
	if strings.Contains(url, "?") {
		return url + "&table=" + table
	}
	return url + "?table=" + table
}
