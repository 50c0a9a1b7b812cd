package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"time"

	scsredisstore "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/cookiestore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/redisstore"
)

// A store is one of sessionkv's stores, in one configuration. Each one is
// measured at the store level and, through the engine's middleware, as a
// request-cycle contender named "sessionkv-" + name.
type store struct {
	name string
	open func(e *env) (session.Store, error)
	// sized: the size cases fill it with up to Plan.StoreSizes sessions.
	sized bool
	// filePerSession: the size cases stop at Plan.FileStoreMaxSize.
	filePerSession bool
	// server is the run's server it needs (Redis, PostgreSQL, MariaDB), if
	// any: it is not measured without one.
	server backend
	// keyed: the keys cases run it on sessions of Plan.SessionKeys keys.
	keyed bool
}

// stores lists sessionkv's stores. A new store is one entry here.
var stores = []store{
	{name: "memstore", sized: true, keyed: true, open: func(*env) (session.Store, error) { return memstore.New(), nil }},
	{name: "boltstore-durable", open: openBolt(false)},
	{name: "boltstore-nosync", sized: true, keyed: true, open: openBolt(true)},
	{name: "cachestore-boltstore-durable", open: openCached(openBolt(false))},
	{name: "cachestore-boltstore-nosync", open: openCached(openBolt(true))},
	{name: "filestore-durable", open: openFiles(false)},
	{name: "filestore-nosync", sized: true, filePerSession: true, keyed: true, open: openFiles(true)},
	{name: "redisstore", server: redisBackend, keyed: true, open: openRedis},
	{name: "sqlstore-sqlite-durable", open: openSQLite(false)},
	{name: "sqlstore-sqlite-nosync", keyed: true, open: openSQLite(true)},
	{name: "sqlstore-postgres", server: postgresBackend, open: openSQLServer(postgresBackend)},
	{name: "sqlstore-mariadb", server: mysqlBackend, open: openSQLServer(mysqlBackend)},
}

// peers lists the request-cycle contenders that are not a server-side
// sessionkv store: sessionkv's cookie store, the floors of a durable cycle
// on each SQL engine, and the other libraries. A new one is one entry here.
var peers = []contender{
	{name: "sessionkv-cookiestore", library: "sessionkv", new: newCookiestore(nil)},
	{name: "sessionkv-cookiestore-compress", library: "sessionkv", new: newCookiestore(&cookiestore.Options{Compress: true})},
	{name: "scs-memstore", library: "scs", sized: true, keyed: true, new: newSCSMemstore},
	{name: "scs-redisstore", library: "scs", server: redisBackend, new: newSCSRedisstore},
	{name: "floor-sqlite-durable", library: "none", new: newSQLiteFloor},
	{name: "floor-postgres", library: "none", server: postgresBackend,
		new: newServerFloor(postgresBackend, "pgx", floorPostgresSchema, "$")},
	{name: "floor-mariadb", library: "none", server: mysqlBackend,
		new: newServerFloor(mysqlBackend, "mysql", floorMySQLSchema, "?")},
	{name: "scs-sqlite3store", library: "scs", new: newSCSSQLite3store},
	{name: "scs-postgresstore", library: "scs", server: postgresBackend, new: newSCSPostgresstore},
	{name: "scs-mysqlstore", library: "scs", server: mysqlBackend, new: newSCSMySQLstore},
	{name: "gorilla-cookiestore", library: "gorilla", new: newGorillaCookieStore},
	{name: "gorilla-filesystemstore", library: "gorilla", new: newGorillaFilesystemStore},
}

func openBolt(noSync bool) func(e *env) (session.Store, error) {
	return func(e *env) (session.Store, error) {
		dir, err := e.tempDir("boltstore")
		if err != nil {
			return nil, err
		}
		return boltstore.Open(filepath.Join(dir, "sessions.db"), &boltstore.Options{NoSync: noSync})
	}
}

func openFiles(noSync bool) func(e *env) (session.Store, error) {
	return func(e *env) (session.Store, error) {
		dir, err := e.tempDir("filestore")
		if err != nil {
			return nil, err
		}
		return filestore.New(dir, &filestore.Options{NoSync: noSync})
	}
}

// openCached returns the opener of a cachestore, with its default options,
// in front of the store open returns. Closing it closes both.
func openCached(open func(e *env) (session.Store, error)) func(e *env) (session.Store, error) {
	return func(e *env) (session.Store, error) {
		backing, err := open(e)
		if err != nil {
			return nil, err
		}
		s, err := cachestore.New(backing, nil)
		if err != nil {
			return nil, errors.Join(err, closeStore(backing))
		}
		return cachedStore{s}, nil
	}
}

// cachedStore is a cachestore that owns its backing store.
type cachedStore struct{ *cachestore.Store }

func (s cachedStore) Close() error {
	return errors.Join(s.Store.Close(), closeStore(s.Unwrap()))
}

// openRedis opens a redisstore on the run's Redis server, through a client
// of its own and under a key prefix of its own. Closing it deletes its keys
// and closes the client.
func openRedis(e *env) (session.Store, error) {
	url, err := e.redisURL()
	if err != nil {
		return nil, err
	}
	client, err := newRedisClient(url)
	if err != nil {
		return nil, err
	}
	prefix := e.redisPrefix("redisstore")
	s, err := redisstore.New(client, &redisstore.Options{Prefix: prefix})
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	return ownedRedisStore{Store: s, release: func() error {
		return errors.Join(dropRedisKeys(e.ctx, url, prefix), client.Close())
	}}, nil
}

// ownedRedisStore is a redisstore that owns its client and its keys.
type ownedRedisStore struct {
	*redisstore.Store
	release func() error
}

func (s ownedRedisStore) Close() error {
	return errors.Join(s.Store.Close(), s.release())
}

// closeStore closes a store that has a Close method.
func closeStore(s session.Store) error {
	if c, ok := s.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// A contender serves the request-cycle cases: one request that loads the
// session by its cookie, reads the int "counter" and writes it back
// incremented.
type contender struct {
	name    string
	library string // sessionkv, scs, gorilla, or none for the floor
	// sized: the size cases run it against large stores; its new must then
	// fill them quickly.
	sized          bool
	filePerSession bool
	// keyed: the keys cases run it on sessions of Plan.SessionKeys keys.
	keyed bool
	// server is the run's server it needs, if any: it is not measured
	// without one.
	server backend
	// new returns a subject holding n copies of the env's session (the
	// realistic one but in the keys cases).
	new func(e *env, n int) (*subject, error)
}

// A subject is a contender ready to serve requests.
type subject struct {
	// handler answers 204 No Content after incrementing "counter", or an
	// error status if the session was not loaded or not saved.
	handler http.Handler
	// cookie returns the cookie of session j, for 0 <= j < n.
	cookie func(j int) *http.Cookie
	close  func() error
}

// contenders returns the floor, one contender per store, and the peers.
func contenders() []contender {
	all := []contender{{name: "floor", library: "none", keyed: true, new: newFloor},
		{name: "floor-http", library: "none", keyed: true, new: newHTTPFloor}}
	for _, s := range stores {
		all = append(all, contender{name: "sessionkv-" + s.name, library: "sessionkv",
			sized: s.sized, filePerSession: s.filePerSession, keyed: s.keyed, server: s.server, new: newSessionkv(s.open)})
	}
	return append(all, peers...)
}

// newFloor is the harness without any session: what every other contender
// costs at least.
func newFloor(*env, int) (*subject, error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return &subject{
		handler: h,
		cookie:  floorCookie,
		close:   func() error { return nil },
	}, nil
}

// floorCookie is the cookie of session j that the floors read: the
// session ID under sessionkv's default cookie name.
func floorCookie(j int) *http.Cookie { return &http.Cookie{Name: "sessionid", Value: sessionID(j)} }

// httpFloorCookie is the Set-Cookie line floor-http sends: a session
// cookie with the attributes sessionkv's default options give it.
var httpFloorCookie = (&http.Cookie{Name: "sessionid", Value: sessionID(0),
	Path: "/", Expires: time.Date(2026, 12, 16, 12, 0, 0, 0, time.UTC), MaxAge: 1209600, HttpOnly: true,
	SameSite: http.SameSiteLaxMode}).String()

// floorContextKey is the context key of floor-http.
type floorContextKey struct{}

// newHTTPFloor is the harness plus the HTTP plumbing that every cookie
// session middleware pays on a request that changes its session, with no
// session at all: read the session cookie, hand the handler a request
// whose context carries a value, and answer with "Vary: Cookie" and a
// Set-Cookie line (the same line every time, built once).
func newHTTPFloor(*env, int) (*subject, error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sessionid")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), floorContextKey{}, c.Value))
		w.Header().Add("Vary", "Cookie")
		w.Header().Add("Set-Cookie", httpFloorCookie)
		w.WriteHeader(http.StatusNoContent)
	})
	return &subject{
		handler: h,
		cookie:  floorCookie,
		close:   func() error { return nil },
	}, nil
}

// counterFailed answers a request whose session did not hold the counter.
func counterFailed(w http.ResponseWriter, n int) {
	http.Error(w, fmt.Sprintf("counter %d: the session was not loaded", n), http.StatusInternalServerError)
}

// sessionkvCounter is the request-cycle handler behind sessionkv's
// middleware.
var sessionkvCounter = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, _ := s.GetInt("counter")
	if n < startCounter {
		counterFailed(w, n)
		return
	}
	s.Set("counter", n+1)
	w.WriteHeader(http.StatusNoContent)
})

// newSessionkv returns the constructor of a contender that runs the engine's
// middleware over the store open returns.
func newSessionkv(open func(e *env) (session.Store, error)) func(e *env, n int) (*subject, error) {
	return func(e *env, sessions int) (*subject, error) {
		store, err := open(e)
		if err != nil {
			return nil, err
		}
		engine, err := session.New(store, engineOptions())
		if err != nil {
			return nil, errors.Join(err, closeStore(store))
		}
		closeAll := func() error { return errors.Join(engine.Close(), closeStore(store)) }
		if err := e.fill(store, sessions); err != nil {
			return nil, errors.Join(fmt.Errorf("bench: fill: %w", err), closeAll())
		}
		name := engine.Options().CookieName
		return &subject{
			handler: engine.Middleware(sessionkvCounter),
			cookie:  func(j int) *http.Cookie { return &http.Cookie{Name: name, Value: sessionID(j)} },
			close:   closeAll,
		}, nil
	}
}

// cookieSecret is the cookie stores' key, as long as the shortest they
// accept.
var cookieSecret = []byte("sessionbench-cookie-secret-0123456789")

// newCookiestore returns the constructor of a contender that keeps the
// session in the cookie, sealed by sessionkv's cookiestore with opts. Its n
// sessions are made through the middleware, one request each.
func newCookiestore(opts *cookiestore.Options) func(e *env, n int) (*subject, error) {
	return func(e *env, n int) (*subject, error) {
		store, err := cookiestore.NewWithOptions(opts, cookieSecret)
		if err != nil {
			return nil, err
		}
		engine, err := session.New(store, engineOptions())
		if err != nil {
			return nil, err
		}
		seed := engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			session.FromContext(r.Context()).Update(e.data.set)
			w.WriteHeader(http.StatusNoContent)
		}))
		cookies := make([]*http.Cookie, n)
		for j := range cookies {
			if cookies[j], err = seedCookie(seed); err != nil {
				return nil, errors.Join(fmt.Errorf("bench: cookiestore: %w", err), engine.Close())
			}
		}
		return &subject{
			handler: engine.Middleware(sessionkvCounter),
			cookie:  func(j int) *http.Cookie { return cookies[j] },
			close:   engine.Close,
		}, nil
	}
}

// newSCSMemstore runs scs's LoadAndSave middleware over its memstore (with
// its default gob codec).
func newSCSMemstore(e *env, sessions int) (*subject, error) {
	store := scsmemstore.NewWithCleanupInterval(0) // no goroutine to stop
	return newSCS(store, e.data.set, sessions, func() error { return nil })
}

// newSCSRedisstore runs scs's LoadAndSave middleware over its Redis store,
// on the run's Redis server, through a redigo pool of as many connections as
// sessionkv's redisstore gets, under a key prefix of its own.
func newSCSRedisstore(e *env, sessions int) (*subject, error) {
	url, err := e.redisURL()
	if err != nil {
		return nil, err
	}
	pool := &redigo.Pool{
		MaxIdle:   redisPoolSize,
		MaxActive: redisPoolSize,
		Wait:      true,
		Dial: func() (redigo.Conn, error) {
			return redigo.DialURL(url, redigo.DialConnectTimeout(redisTimeout),
				redigo.DialReadTimeout(redisTimeout), redigo.DialWriteTimeout(redisTimeout))
		},
	}
	prefix := e.redisPrefix("scs")
	release := func() error { return errors.Join(dropRedisKeys(e.ctx, url, prefix), pool.Close()) }
	s, err := newSCS(scsredisstore.NewWithPrefix(pool, prefix), e.data.set, sessions, release)
	if err != nil {
		return nil, errors.Join(err, release())
	}
	return s, nil
}

// newSCS runs scs's LoadAndSave middleware over store (with its default gob
// codec). One session holding set is made through the middleware; the store
// is then filled with copies of its bytes under the fixed IDs. The subject's
// close calls release.
func newSCS(store scs.Store, set map[string]any, sessions int, release func() error) (*subject, error) {
	registerGob()
	sm := scs.New()
	sm.Store = store
	seed := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range set {
			sm.Put(r.Context(), k, v)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	c, err := seedCookie(seed)
	if err != nil {
		return nil, fmt.Errorf("bench: scs: %w", err)
	}
	data, found, err := store.Find(c.Value)
	if err != nil || !found {
		return nil, fmt.Errorf("bench: scs: the seeded session is not in the store (found %v): %v", found, err)
	}
	expiry := time.Now().Add(24 * time.Hour)
	for j := range sessions {
		if err := store.Commit(sessionID(j), data, expiry); err != nil {
			return nil, fmt.Errorf("bench: scs: fill: %w", err)
		}
	}
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), "counter")
		if n < startCounter {
			counterFailed(w, n)
			return
		}
		sm.Put(r.Context(), "counter", n+1)
		w.WriteHeader(http.StatusNoContent)
	}))
	return &subject{
		handler: h,
		cookie:  func(j int) *http.Cookie { return &http.Cookie{Name: sm.Cookie.Name, Value: sessionID(j)} },
		close:   release,
	}, nil
}

// gorillaName is the session (and cookie) name used with gorilla/sessions.
const gorillaName = "session"

// gorillaKey authenticates gorilla's cookies (HMAC-SHA256), as sessionkv's
// cookiestore does with Options.SignOnly.
var gorillaKey = []byte("sessionbench-authentication-key-0123456789abcdef")

// newGorillaCookieStore keeps the whole session in a signed cookie.
func newGorillaCookieStore(e *env, n int) (*subject, error) {
	store := sessions.NewCookieStore(gorillaKey)
	likeSessionkv(store.Options)
	return newGorilla(store, e.data.set, n)
}

// newGorillaFilesystemStore keeps one file per session and its ID in a
// signed cookie.
func newGorillaFilesystemStore(e *env, n int) (*subject, error) {
	dir, err := e.tempDir("gorilla-filesystem")
	if err != nil {
		return nil, err
	}
	store := sessions.NewFilesystemStore(dir, gorillaKey)
	likeSessionkv(store.Options)
	return newGorilla(store, e.data.set, n)
}

// likeSessionkv gives gorilla's cookies sessionkv's default attributes.
func likeSessionkv(o *sessions.Options) {
	o.HttpOnly, o.Secure, o.SameSite = true, false, http.SameSiteLaxMode
}

// newGorilla serves requests from a gorilla/sessions store, which has no
// middleware: the handler gets the session and saves it, as its
// documentation shows. The n sessions, each holding set, are made through
// the store, one request each.
func newGorilla(store sessions.Store, set map[string]any, count int) (*subject, error) {
	registerGob()
	seed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, gorillaName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range set {
			s.Values[k] = v
		}
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	cookies := make([]*http.Cookie, count)
	for j := range cookies {
		c, err := seedCookie(seed)
		if err != nil {
			return nil, fmt.Errorf("bench: gorilla: %w", err)
		}
		cookies[j] = c
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, gorillaName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := s.Values["counter"].(int)
		if n < startCounter {
			counterFailed(w, n)
			return
		}
		s.Values["counter"] = n + 1
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return &subject{
		handler: h,
		cookie:  func(j int) *http.Cookie { return cookies[j] },
		close:   func() error { return nil },
	}, nil
}

// seedCookie runs one request without a cookie through h and returns the session cookie the response set.
func seedCookie(h http.Handler) (*http.Cookie, error) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		return nil, fmt.Errorf("seeding request: status %d: %s", rec.Code, rec.Body.String())
	}
	for _, c := range rec.Result().Cookies() {
		if c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}, nil
		}
	}
	return nil, errors.New("seeding request: no session cookie set")
}
