package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sessionkv/session"
)

// DjangoStore is a session.Store in Django's own table, django_session,
// which Django's db session backend (SESSION_ENGINE
// "django.contrib.sessions.backends.db", Django's default) reads and
// writes: a Go service and a Django app on one database then share their
// sessions. Pair it with an engine in Django's format (package
// djangosession), whose records are Django's session_data. Create it with
// OpenDjango or NewDjango. It is safe for concurrent use, with Django's
// processes too.
//
// The table is Django's: session_key (at most 40 characters),
// session_data (text) and expire_date (a UTC timestamp; Django needs
// USE_TZ = True, its default, to read it as UTC). It keeps no owner, so
// DjangoStore is no session.UserIndexer, and the engine's UserSessions and
// DeleteUser return session.ErrNotSupported with it, as Django itself has
// no way to find a user's sessions but to decode them all. It has no write
// token either: UpdateRecord
// on PostgreSQL and MySQL compares session_data instead, which every write
// of Django's format changes, since it holds its signing time and
// signature. On SQLite, writes share transactions as Store's do. Django's
// own writes take no part in either: a request of each side saving one
// session at once ends as the later write, as between two Django
// processes.
//
// Open and New create the table as Django's first sessions migration does
// when it is missing (Options.NoCreate turns that off); a Django project
// then needs "migrate --fake-initial" for its sessions app, or run Django's
// migrations first.
type DjangoStore struct{ s *Store }

var (
	_ session.Store         = (*DjangoStore)(nil)
	_ session.Sweeper       = (*DjangoStore)(nil)
	_ session.Updater       = (*DjangoStore)(nil)
	_ session.Ranger        = (*DjangoStore)(nil)
	_ session.ExpiredRanger = (*DjangoStore)(nil)
	_ session.Counter       = (*DjangoStore)(nil)
)

// OpenDjango is Open for Django's table: the URL and options are Open's,
// and Options.Table defaults to "django_session". Records' UserID is
// always "": the table keeps no owner.
func OpenDjango(rawURL string, opts *Options) (*DjangoStore, error) {
	s, err := open(rawURL, opts, djangoLayout{})
	if err != nil {
		return nil, err
	}
	return &DjangoStore{s}, nil
}

// NewDjango is New for Django's table in a database the application
// already has open. For MySQL, db must report found rows
// (clientFoundRows=true), as for New.
func NewDjango(db *sql.DB, d Dialect, opts *Options) (*DjangoStore, error) {
	s, err := newWith(db, d, opts, djangoLayout{})
	if err != nil {
		return nil, err
	}
	return &DjangoStore{s}, nil
}

// DjangoSchema returns the statements of Django's first sessions migration
// for its table in dialect d ("" means django_session), with IF NOT
// EXISTS, each ending with a semicolon.
func DjangoSchema(d Dialect, table string) (string, error) {
	return schema(djangoLayout{}, d, table)
}

// Load implements session.Store.
func (d *DjangoStore) Load(ctx context.Context, key string) (session.Record, error) {
	return d.s.Load(ctx, key)
}

// Save implements session.Store; rec.UserID is not kept.
func (d *DjangoStore) Save(ctx context.Context, key string, rec session.Record) error {
	return d.s.Save(ctx, key, rec)
}

// Delete implements session.Store.
func (d *DjangoStore) Delete(ctx context.Context, key string) error { return d.s.Delete(ctx, key) }

// UpdateRecord implements session.Updater, as Store.UpdateRecord does.
func (d *DjangoStore) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	return d.s.UpdateRecord(ctx, key, fn)
}

// DeleteExpired implements session.Sweeper, Django's clearsessions.
func (d *DjangoStore) DeleteExpired(ctx context.Context) (int, error) {
	return d.s.DeleteExpired(ctx)
}

// Range implements session.Ranger.
func (d *DjangoStore) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return d.s.Range(ctx, fn)
}

// RangeExpired implements session.ExpiredRanger.
func (d *DjangoStore) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return d.s.RangeExpired(ctx, fn)
}

// Count implements session.Counter.
func (d *DjangoStore) Count(ctx context.Context) (int, error) { return d.s.Count(ctx) }

// Close closes the store, and the database if OpenDjango opened it.
func (d *DjangoStore) Close() error { return d.s.Close() }

// DB returns the underlying database.
func (d *DjangoStore) DB() *sql.DB { return d.s.DB() }

// Dialect returns the engine the store speaks to.
func (d *DjangoStore) Dialect() Dialect { return d.s.Dialect() }

// Table returns the name of the store's table.
func (d *DjangoStore) Table() string { return d.s.Table() }

// String describes the store for logs.
func (d *DjangoStore) String() string {
	return fmt.Sprintf("sqlstore(%v, Django's table %s)", d.s.dialect, d.s.opts.Table)
}
