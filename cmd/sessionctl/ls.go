package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/storeconfig"
)

var lsCommand = &command{
	name:     "ls",
	synopsis: "[--store URL] [--user UID | --expired] [--limit N] [--json]",
	summary:  "list sessions: store key, user, size, expiry",
	details: `
Lists the live sessions of a store: store key (the SHA-256 of the
session ID, as "show" takes it), user ID, encoded size and expiry; in key
order for bolt, file and SQL stores and for --user, in the store's order
for the others.
--user lists one user's sessions, through the store's user index when it
has one and by reading every session otherwise. In Django's stores the
key is Django's session key, the session cookie itself: keep the list as
private as the store.

--expired lists the sessions that have expired but are still stored,
waiting for a sweep (bolt, file, SQL and memory stores keep them until one
runs; delete them now with clearsessions). A store that cannot list them
gets a count instead where it can count its records; Redis deletes
expired keys itself.`,
	example: `
sessionctl ls --store bolt:/var/lib/app/sessions.db --limit 20
sessionctl ls --store file:/var/lib/app/sessions --user 42 --json
sessionctl ls --store postgres://app@db.internal/app --expired`,
	run: runLs,
}

// sessionRow describes one stored session in ls output.
type sessionRow struct {
	Key     string    `json:"key"`
	UserID  string    `json:"user_id"`
	Size    int       `json:"size"`
	Expires time.Time `json:"expires"`
}

func rowOf(key string, rec session.Record) sessionRow {
	return sessionRow{Key: key, UserID: rec.UserID, Size: len(rec.Data), Expires: rec.Expires}
}

type lsFlags struct {
	store   *string
	user    *string
	expired *bool
	limit   *int
}

func runLs(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	f := lsFlags{
		store:   storeFlag(fs),
		user:    fs.String("user", "", "list only the sessions of user `UID`"),
		expired: fs.Bool("expired", false, "list the expired sessions not yet swept"),
		limit:   fs.Int("limit", 0, "list at most `N` sessions (0: all)"),
	}
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkLsFlags(f); err != nil {
		return err
	}
	o, err := a.open(*f.store, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	if _, sealed := o.Store.(session.Sealer); sealed {
		return errNoSealedStore
	}
	er, canList := session.As[session.ExpiredRanger](o.Store)
	if *f.expired && !canList {
		return a.lsExpired(ctx, o)
	}
	out := a.newRowWriter(o.Spec.String())
	if err := out.begin(); err != nil {
		return err
	}
	var truncated bool
	if *f.expired {
		truncated, err = listExpired(ctx, er, *f.limit, out.row)
	} else {
		truncated, err = a.listRows(ctx, o.Store, *f.user, *f.limit, out.row)
	}
	if err != nil {
		return err
	}
	return out.end(truncated)
}

func checkLsFlags(f lsFlags) error {
	if *f.limit < 0 {
		return usageErrorf("--limit %d: must be 0 (all) or more", *f.limit)
	}
	if *f.expired && *f.user != "" {
		return usageErrorf("--expired and --user do not combine")
	}
	return nil
}

// listRows calls row for the live sessions of st (those of uid when uid is
// not ""), at most limit of them (0: all). It reports whether it stopped at
// the limit with more sessions left.
func (a *app) listRows(ctx context.Context, st session.Store, uid string, limit int, row func(sessionRow) error) (truncated bool, err error) {
	if uid != "" {
		rows, err := a.userRows(ctx, st, uid)
		if err == nil {
			return emitRows(rows, limit, row)
		}
		if !errors.Is(err, session.ErrNotSupported) {
			return false, err
		}
	}
	n := 0
	err = a.scan(ctx, st, "listing sessions", func(key string, rec session.Record) (bool, error) {
		if uid != "" && rec.UserID != uid {
			return true, nil
		}
		if limit > 0 && n == limit {
			truncated = true
			return false, nil
		}
		n++
		return true, row(rowOf(key, rec))
	})
	return truncated, err
}

// listExpired calls row for the expired sessions st still holds, at most
// limit of them (0: all), and reports whether some were left out.
func listExpired(ctx context.Context, st session.ExpiredRanger, limit int, row func(sessionRow) error) (truncated bool, err error) {
	n := 0
	var rowErr error
	err = st.RangeExpired(ctx, func(key string, rec session.Record) bool {
		if limit > 0 && n == limit {
			truncated = true
			return false
		}
		n++
		rowErr = row(rowOf(key, rec))
		return rowErr == nil
	})
	if rowErr != nil {
		return false, rowErr
	}
	if err != nil {
		return false, fmt.Errorf("list expired sessions: %w", err)
	}
	return truncated, nil
}

// emitRows calls row for the first limit rows (0: all) and reports whether
// some were left out.
func emitRows(rows []sessionRow, limit int, row func(sessionRow) error) (truncated bool, err error) {
	if limit > 0 && len(rows) > limit {
		rows, truncated = rows[:limit], true
	}
	for _, r := range rows {
		if err := row(r); err != nil {
			return false, err
		}
	}
	return truncated, nil
}

// userRows lists uid's live sessions through the store's user index, in
// key order. It returns an error wrapping session.ErrNotSupported when the
// store has no index.
func (a *app) userRows(ctx context.Context, st session.Store, uid string) ([]sessionRow, error) {
	e, err := a.newEngine(st)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	stored, err := e.UserSessions(ctx, uid)
	if err != nil {
		return nil, err
	}
	rows := make([]sessionRow, len(stored))
	for i, s := range stored {
		rows[i] = sessionRow{Key: s.Key, UserID: s.UserID, Size: s.Size, Expires: s.Expires}
	}
	slices.SortFunc(rows, func(x, y sessionRow) int { return strings.Compare(x.Key, y.Key) })
	return rows, nil
}

// scan calls fn for each live record of st, with a progress bar counting
// towards the store's record count, until fn returns false or an error.
func (a *app) scan(ctx context.Context, st session.Store, desc string, fn func(key string, rec session.Record) (bool, error)) error {
	r, ok := session.As[session.Ranger](st)
	if _, sealed := st.(session.Sealer); sealed {
		return errNoSealedStore
	}
	if !ok {
		return fmt.Errorf("%w: this store cannot list its sessions", session.ErrNotSupported)
	}
	var bar *progress
	if a.progress {
		total, _, _ := storedCount(ctx, st) // an estimate: 0 gives a spinner
		bar = a.counter(desc, "sessions", int64(total))
	}
	defer bar.finish()
	var fnErr error
	err := r.Range(ctx, func(key string, rec session.Record) bool {
		bar.add(1)
		more, err := fn(key, rec)
		fnErr = err
		return more && err == nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	return nil
}

// lsExpired prints how many expired records st holds.
func (a *app) lsExpired(ctx context.Context, o *storeconfig.Opened) error {
	c, err := a.countLive(ctx, o.Store)
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(struct {
			Store    string `json:"store"`
			Sessions []any  `json:"sessions"`
			Expired  *int   `json:"expired"`
			Note     string `json:"note"`
		}{o.Spec.String(), []any{}, c.expired(), expiredNote})
	}
	if n := c.expired(); n != nil {
		_, err = fmt.Fprintf(a.stdout, "%s wait for a sweep in %s\n(%s)\n", plural(*n, "expired session"), printable(o.Spec.String()), expiredNote)
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s cannot count its expired sessions\n(%s)\n", printable(o.Spec.String()), expiredNote)
	return err
}

const expiredNote = "stores list live sessions only, so expired ones are counted, not listed; clearsessions deletes them"

// rowWriter prints ls rows as a table or as JSON, streaming.
type rowWriter struct {
	w     io.Writer
	json  bool
	store string
	now   time.Time
	n     int
}

func (a *app) newRowWriter(store string) *rowWriter {
	return &rowWriter{w: a.stdout, json: a.json, store: store, now: time.Now()}
}

func (w *rowWriter) begin() error {
	if w.json {
		store, _ := json.Marshal(w.store)
		store = escapeJSON(store)
		_, err := fmt.Fprintf(w.w, "{\n  \"store\": %s,\n  \"sessions\": [", store)
		return err
	}
	_, err := fmt.Fprintf(w.w, "%-64s  %-16s  %10s  %s\n", "KEY", "USER", "SIZE", "EXPIRES")
	return err
}

func (w *rowWriter) row(r sessionRow) error {
	w.n++
	if w.json {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b = escapeJSON(b)
		sep := ","
		if w.n == 1 {
			sep = ""
		}
		_, err = fmt.Fprintf(w.w, "%s\n    %s", sep, b)
		return err
	}
	user := r.UserID
	if user == "" {
		user = "-"
	}
	_, err := fmt.Fprintf(w.w, "%-64s  %-16s  %10s  %s\n", printable(r.Key), printable(user), humanBytes(int64(r.Size)), humanExpiry(r.Expires, w.now))
	return err
}

func (w *rowWriter) end(truncated bool) error {
	if w.json {
		nl := "\n  "
		if w.n == 0 {
			nl = ""
		}
		_, err := fmt.Fprintf(w.w, "%s],\n  \"count\": %d,\n  \"truncated\": %t\n}\n", nl, w.n, truncated)
		return err
	}
	more := ""
	if truncated {
		more = " (limit reached; more exist)"
	}
	_, err := fmt.Fprintf(w.w, "%s%s\n", plural(w.n, "session"), more)
	return err
}
