package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangointerop"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
)

// The tests in this file run the demo and the seed's Django project
// (package djangointerop: Django's own code, through its test client) on
// one store, for each of Django's session backends, and pass each
// visitor's session cookie from one to the other.

func TestMain(m *testing.M) { sqltest.Main(m) }

// The keys: Django and the demo sign with newKey; the demo also opens
// oldKey's sessions (SECRET_KEY_FALLBACKS), as after a rotation; otherKey
// is another project's.
const (
	newKey   = "django-insecure-new-key-(for-the-tests)"
	oldKey   = "django-insecure-old-key-(for-the-tests)"
	otherKey = "django-insecure-someone-elses-key"
)

// cookieAge is SESSION_COOKIE_AGE on both sides.
const cookieAge = time.Hour

// interop is one backend shared by the demo and Django.
type interop struct {
	t       *testing.T
	backend string // Django's: db, file or signed_cookies
	base    string // the demo's URL
	django  *djangointerop.Django
	dir     string // SESSION_FILE_PATH
	dbURL   string // the database, for db
}

// startInterop starts the demo and Django on backend's store; for db,
// on dbURL ("" for the SQLite file db.sqlite3 in SESSION_FILE_PATH).
// Django's migration makes django_session when Django starts first, and
// takes the demo's table as its own otherwise.
func startInterop(t *testing.T, backend, dbURL string, demoFirst bool) *interop {
	djangointerop.Require(t)
	dir := t.TempDir()
	x := &interop{t: t, backend: backend, dir: dir, dbURL: dbURL}
	if backend == "db" && dbURL == "" {
		x.dbURL = "sqlite:" + filepath.Join(dir, "db.sqlite3")
	}
	cfg := djangointerop.Config{Engine: backend, SecretKey: newKey, FilePath: dir, CookieAge: cookieAge}
	if backend == "db" {
		cfg.DatabaseURL, cfg.Migrate = x.dbURL, true
	}
	env := map[string]string{
		"SESSION_ENGINE":       "django.contrib.sessions.backends." + backend,
		"SESSION_FILE_PATH":    dir,
		"DATABASE_URL":         dbURL,
		"SECRET_KEY":           newKey,
		"SECRET_KEY_FALLBACKS": "unused-key, " + oldKey,
		"SESSION_COOKIE_AGE":   fmt.Sprint(int(cookieAge / time.Second)),
	}
	var logs fmt.Stringer
	if demoFirst {
		x.base, logs = startDemo(t, env)
		x.django = djangointerop.Start(t, cfg)
	} else {
		x.django = djangointerop.Start(t, cfg)
		x.base, logs = startDemo(t, env)
	}
	if s := logs.String(); !strings.Contains(s, "engine=django.contrib.sessions.backends."+backend) {
		t.Errorf("startup log: %s", s)
	}
	return x
}

// visitor is one browser: its session cookie goes back and forth
// between the demo and Django.
type visitor struct {
	x      *interop
	cookie string // the session cookie's value; "" for none
	maxAge string // the Max-Age of the last cookie set
}

func (x *interop) visitor() *visitor { return &visitor{x: x} }

// goGet requests path from the demo with the visitor's cookie, keeps the
// cookie the demo sets, and returns the body.
func (v *visitor) goGet(path string) string {
	t := v.x.t
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.x.base+path, nil)
	if v.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: v.cookie})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("demo GET %s: %s\n%s", path, resp.Status, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			v.cookie, v.maxAge = c.Value, fmt.Sprint(c.MaxAge)
			if c.MaxAge < 0 {
				v.cookie, v.maxAge = "", "0"
			}
		}
	}
	return string(body)
}

// djGet requests path from Django with the visitor's cookie.
func (v *visitor) djGet(path string) string {
	v.x.t.Helper()
	return v.djDo(djangointerop.Request{Path: path})
}

// djDo sends r from Django with the visitor's cookie, keeps the cookie
// Django sets, and returns the body.
func (v *visitor) djDo(r djangointerop.Request) string {
	t := v.x.t
	t.Helper()
	r.Cookie = v.cookie
	res := v.x.django.Do(t, r)[0]
	if res.Status != http.StatusOK {
		t.Fatalf("Django GET %s: %d\n%s", r.Path, res.Status, res.Body)
	}
	if res.Cookie != nil {
		v.cookie, v.maxAge = res.Cookie.Value, res.Cookie.MaxAge
	}
	return res.Body
}

var (
	goName     = regexp.MustCompile(`<p id="name"><span class="value">(.*?)</span> <span class="value">(.*?)</span></p>`)
	djangoName = regexp.MustCompile(`<p id="name">(\S*) (\S*)</p>`)
)

// names returns "name lname" as a /get/ page of either side shows them.
func names(t *testing.T, page string) string {
	t.Helper()
	for _, re := range []*regexp.Regexp{goName, djangoName} {
		if m := re.FindStringSubmatch(page); m != nil {
			return m[1] + " " + m[2]
		}
	}
	t.Fatalf("not a /get/ page:\n%s", page)
	return ""
}

// stableIDs reports whether the backend keeps a session under one key:
// all but signed_cookies, whose cookie is the session.
func (x *interop) stableIDs() bool { return x.backend != "signed_cookies" }

// TestDjango_SharesSessions runs the demo and Django on one store, for
// each backend: each side reads what the other wrote, updates and
// deletes cross over, values of every JSON type round-trip, foreign and
// tampered sessions are refused by both, a rotated key opens through the
// fallbacks, and both agree on expiry.
func TestDjango_SharesSessions(t *testing.T) {
	for _, tc := range []struct {
		name, backend string
		postgres      bool
		demoFirst     bool
	}{
		{"db", "db", false, false},
		{"db_postgres", "db", true, true},
		{"file", "file", false, false},
		{"signed_cookies", "signed_cookies", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := ""
			if tc.postgres {
				djangointerop.RequirePostgres(t)
				srv := sqltest.SharedPostgres(t)
				dbURL = srv.NewDatabase(t)
			}
			x := startInterop(t, tc.backend, dbURL, tc.demoFirst)
			t.Run("set_get", x.testSetGet)
			t.Run("count", x.testCount)
			t.Run("delete", x.testDelete)
			t.Run("flush", x.testFlush)
			t.Run("json_types", x.testJSONTypes)
			t.Run("refused", x.testRefused)
			t.Run("rotation", x.testRotation)
			t.Run("expiry", x.testExpiry)
		})
	}
}

// testSetGet: the demo's /set/ is Django's, and Django's the demo's.
func (x *interop) testSetGet(t *testing.T) {
	x.t = t
	v := x.visitor()
	v.goGet("/set/")
	if x.stableIDs() && !djangosession.ValidSessionKey(v.cookie) {
		t.Fatalf("the demo's session cookie %q is not a Django session key", v.cookie)
	}
	if v.maxAge != "3600" {
		t.Errorf("the demo's cookie has Max-Age %s, want SESSION_COOKIE_AGE", v.maxAge)
	}
	id := v.cookie
	page := v.djGet("/get/")
	if got := names(t, page); got != "Sonam rathore" {
		t.Errorf("Django's /get/ after the demo's /set/ shows %q:\n%s", got, page)
	}
	if v.maxAge != "3600" {
		t.Errorf("Django's cookie has Max-Age %s", v.maxAge)
	}
	// Django's setdefault('age') is the demo's too.
	if page := v.goGet("/get/"); names(t, page) != "Sonam rathore" || !strings.Contains(page, `<span id="age" class="value">26</span>`) {
		t.Errorf("the demo's /get/ after Django's:\n%s", page)
	}
	if x.stableIDs() && v.cookie != id {
		t.Errorf("the session key changed: %s, then %s", id, v.cookie)
	}

	w := x.visitor()
	w.djGet("/set/")
	page = w.goGet("/get/")
	if got := names(t, page); got != "Sonam rathore" {
		t.Errorf("the demo's /get/ after Django's /set/ shows %q:\n%s", got, page)
	}
	for _, k := range []string{"age", "lname", "name"} {
		if !strings.Contains(page, `<span class="value">`+k+`</span>`) {
			t.Errorf("the demo's /get/ lacks the key %s:\n%s", k, page)
		}
	}
	if page := w.djGet("/get/"); !strings.Contains(page, "age") || names(t, page) != "Sonam rathore" {
		t.Errorf("Django's /get/ after the demo's:\n%s", page)
	}
}

// testCount: one counter, incremented by both sides in turn.
func (x *interop) testCount(t *testing.T) {
	x.t = t
	v := x.visitor()
	for i, step := range []struct {
		django bool
		path   string
		want   string
	}{
		{false, "/count/", "1"},
		{true, "/count/", "2"},
		{false, "/count/", "3"},
		{true, "/count/", "4"},
		{false, "/count/?read=1", "4"},
		{true, "/count/?read=1", "4"},
	} {
		get, side := v.goGet, "the demo"
		if step.django {
			get, side = v.djGet, "Django"
		}
		if got := strings.TrimSpace(get(step.path)); got != step.want {
			t.Fatalf("step %d: %s's %s = %s, want %s", i, side, step.path, got, step.want)
		}
	}
}

// testDelete: a /del/ on either side is seen by the other.
func (x *interop) testDelete(t *testing.T) {
	x.t = t
	v := x.visitor()
	v.goGet("/set/")
	v.djGet("/del/")
	if got := names(t, v.goGet("/get/")); got != "Guest Guest" {
		t.Errorf("the demo's /get/ after Django's /del/ shows %q", got)
	}
	v.djGet("/set/")
	if got := names(t, v.goGet("/get/")); got != "Sonam rathore" {
		t.Errorf("the demo's /get/ after Django's /set/ shows %q", got)
	}
	v.goGet("/del/")
	if got := names(t, v.djGet("/get/")); got != "Guest Guest" {
		t.Errorf("Django's /get/ after the demo's /del/ shows %q", got)
	}
}

// testFlush: a flush on either side ends the session for the other. A
// signed cookie cannot be revoked: both sides still open a copy of it.
func (x *interop) testFlush(t *testing.T) {
	x.t = t
	for _, goFlushes := range []bool{true, false} {
		v := x.visitor()
		v.goGet("/set/")
		old := v.cookie
		if goFlushes {
			v.goGet("/flush/")
		} else {
			v.djGet("/flush/")
		}
		if v.cookie != "" {
			t.Errorf("flush (by the demo: %v) left the cookie %q", goFlushes, v.cookie)
		}
		want := "Guest Guest"
		if !x.stableIDs() {
			want = "Sonam rathore"
		}
		replay := &visitor{x: x, cookie: old}
		if got := names(t, replay.djGet("/get/")); got != want {
			t.Errorf("flushed by the demo: %v; Django's /get/ with the old cookie shows %q, want %q", goFlushes, got, want)
		}
		replay.cookie = old
		if got := names(t, replay.goGet("/get/")); got != want {
			t.Errorf("flushed by the demo: %v; the demo's /get/ with the old cookie shows %q, want %q", goFlushes, got, want)
		}
	}
}

// allTypes is what Go reads of Django's ALL_TYPES (student/views.py).
var allTypes = map[string]any{
	"str":         "Sonam",
	"unicode":     "café ☕ 😀 \u202e",
	"empty_str":   "",
	"int":         int64(42),
	"negative":    int64(-7),
	"big":         int64(1 << 62),
	"zero":        int64(0),
	"float":       3.25,
	"whole_float": 1.0,
	"tiny":        1e-7,
	"huge":        1e300,
	"inf":         math.Inf(1),
	"neg_inf":     math.Inf(-1),
	"true":        true,
	"false":       false,
	"none":        nil,
	"list":        []any{int64(1), "two", 3.0, nil, []any{true, map[string]any{"x": []any{}}}},
	"dict":        map[string]any{"a": int64(1), "b": map[string]any{"c": []any{nil, false}}, "": "empty key"},
	"empty_list":  []any{},
	"empty_dict":  map[string]any{},
}

// getAll is Django's /getall/: whether ALL_TYPES are all there, and
// every item with its Python type.
type getAll struct {
	Equal bool
	Items []any
}

func (v *visitor) djGetAll() getAll {
	t := v.x.t
	t.Helper()
	var g getAll
	if err := json.Unmarshal([]byte(v.djGet("/getall/")), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// engine returns an engine of its own on the demo's store, opened as the
// demo opens it (the environment is the demo's), on the clock now (nil:
// the real one).
func (x *interop) engine(t *testing.T, now func() time.Time) *session.Engine {
	o, err := storeconfig.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if now != nil && o.Django != nil {
		o.Django.Now = now // the signing time of a signed cookie
		if x.backend == "signed_cookies" {
			if o.Store, err = djangosession.NewCookieStore(o.Django); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := session.DefaultOptions()
	o.Options(opts)
	opts.SweepInterval = -1
	if now != nil {
		opts.Now = now
	}
	e, err := session.New(o.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testJSONTypes: values of every JSON type that Django stores are read by
// Go with their types, re-saved by the demo, and read back by Django
// equal; and the same values written by Go are Django's.
func (x *interop) testJSONTypes(t *testing.T) {
	x.t = t
	ctx := context.Background()
	e := x.engine(t, nil)

	v := x.visitor()
	v.djGet("/setall/")
	before := v.djGetAll()
	if !before.Equal {
		t.Fatalf("Django's own /getall/ after /setall/: %+v", before)
	}
	s, err := e.Load(ctx, v.cookie)
	if err != nil || s.ID() != v.cookie {
		t.Fatalf("Go cannot load Django's session: %v", err)
	}
	for k, want := range allTypes {
		if got, ok := s.Get(k); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Go reads %s = %#v (%v), want %#v", k, got, ok, want)
		}
	}
	if s.Len() != len(allTypes) {
		t.Errorf("Go reads %d values, want %d: %v", s.Len(), len(allTypes), s.Keys())
	}
	// The demo's /count/ saves the session again, every value through
	// Go's codec.
	if n := strings.TrimSpace(v.goGet("/count/")); n != "1" {
		t.Fatalf("the demo's /count/ = %s", n)
	}
	after := v.djGetAll()
	if !after.Equal {
		t.Errorf("Django reads back other values after the demo saved them: %+v", after)
	}
	items := after.Items[1].(map[string]any)
	if c := items["count"]; !reflect.DeepEqual(c, []any{"int", 1.0}) {
		t.Errorf("Django reads count = %v, want the int 1", c)
	}
	delete(items, "count")
	if !reflect.DeepEqual(after.Items, before.Items) {
		t.Errorf("Django reads\n%v\nafter the demo's save, and\n%v\nbefore", after.Items, before.Items)
	}

	// Go writes the same values; Django reads them.
	s, _ = e.Load(ctx, "")
	s.Update(allTypes)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	w := &visitor{x: x, cookie: s.ID()}
	if g := w.djGetAll(); !g.Equal {
		t.Errorf("Django reads other values than Go wrote: %+v", g)
	}
}

// tamper returns value with one character of its payload (before the
// first ":") changed.
func tamper(value string) string {
	i := strings.IndexByte(value, ':') / 2
	b := []byte(value)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// tamperStored changes one character of the stored session data of key.
func (x *interop) tamperStored(t *testing.T, key string) {
	ctx := context.Background()
	switch x.backend {
	case "file":
		path := filepath.Join(x.dir, "sessionid"+key)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(tamper(string(data))), 0o600); err != nil {
			t.Fatal(err)
		}
	case "db":
		st, err := sqlstore.OpenDjango(x.dbURL, &sqlstore.Options{NoCreate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		q := "SELECT session_data FROM django_session WHERE session_key = ?"
		u := "UPDATE django_session SET session_data = ? WHERE session_key = ?"
		if st.Dialect() == sqlstore.PostgreSQL {
			q = strings.Replace(q, "?", "$1", 1)
			u = strings.Replace(strings.Replace(u, "?", "$1", 1), "?", "$2", 1)
		}
		var data string
		if err := st.DB().QueryRowContext(ctx, q, key).Scan(&data); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().ExecContext(ctx, u, tamper(data), key); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRefused checks that both sides give the visitor of cookie a new,
// empty session: the demo first, since Django's /get/ saves its new
// session over a record it cannot read (it keeps the session key of a
// stored record, where the demo issues a new one), and stored says
// whether there is such a record.
func (x *interop) checkRefused(t *testing.T, what, cookie string, stored bool) {
	t.Helper()
	g := &visitor{x: x, cookie: cookie}
	if got := names(t, g.goGet("/get/")); got != "Guest Guest" || g.cookie == cookie {
		t.Errorf("%s: the demo's /get/ shows %q, cookie %q", what, got, g.cookie)
	}
	d := &visitor{x: x, cookie: cookie}
	if got := names(t, d.djGet("/get/")); got != "Guest Guest" {
		t.Errorf("%s: Django's /get/ shows %q", what, got)
	}
	if !stored && d.cookie == cookie {
		t.Errorf("%s: Django took the cookie's session key", what)
	}
}

// testRefused: a session signed with another project's key, a tampered
// one, and a session key no one issued are new, empty sessions on both
// sides. For db and file the signature is in the stored data, for
// signed_cookies in the cookie.
func (x *interop) testRefused(t *testing.T) {
	x.t = t
	v := x.visitor()
	v.djDo(djangointerop.Request{Path: "/set/", SecretKey: otherKey})
	x.checkRefused(t, "signed with another key", v.cookie, x.stableIDs())

	for _, byGo := range []bool{true, false} {
		v := x.visitor()
		if byGo {
			v.goGet("/set/")
		} else {
			v.djGet("/set/")
		}
		cookie := v.cookie
		if x.stableIDs() {
			x.tamperStored(t, cookie)
		} else {
			cookie = tamper(cookie)
		}
		x.checkRefused(t, fmt.Sprintf("tampered (written by the demo: %v)", byGo), cookie, x.stableIDs())
	}

	x.checkRefused(t, "a session key no one issued", djangosession.NewSessionKey(), false)
}

// testRotation: Django signs with the old key; the demo, with the new key
// and the old one among its fallbacks, reads the session and signs it
// again with the new key, which Django then reads.
func (x *interop) testRotation(t *testing.T) {
	x.t = t
	v := x.visitor()
	v.djDo(djangointerop.Request{Path: "/set/", SecretKey: oldKey})
	if got := names(t, v.goGet("/get/")); got != "Sonam rathore" {
		t.Fatalf("the demo's /get/ of a session of the old key shows %q", got)
	}
	// The demo's /get/ saved it (setdefault('age')): now under the new key.
	if got := names(t, v.djGet("/get/")); got != "Sonam rathore" {
		t.Errorf("Django's /get/ after the demo's save shows %q", got)
	}
}

// testExpiry: a session expired for one side is expired for the other,
// and one about to expire is live for both. Django's clock moves back for
// its saves (so that its db backend's expire_date, and its signed
// cookie's timestamp, are in the past); a file session ages by its
// modification time, as Django's file backend reads it.
func (x *interop) testExpiry(t *testing.T) {
	x.t = t
	ctx := context.Background()
	now := time.Now()
	read := func(v *visitor) (goN, djangoN string) {
		t.Helper()
		g := &visitor{x: x, cookie: v.cookie}
		d := &visitor{x: x, cookie: v.cookie}
		return strings.TrimSpace(g.goGet("/count/?read=1")), strings.TrimSpace(d.djGet("/count/?read=1"))
	}
	check := func(what string, v *visitor, live bool) {
		t.Helper()
		want := "0"
		if live {
			want = "1"
		}
		if g, d := read(v); g != want || d != want {
			t.Errorf("%s: the demo reads count %s, Django %s; want %s on both", what, g, d, want)
		}
	}
	age := func(v *visitor, d time.Duration) {
		t.Helper()
		when := now.Add(-d)
		if err := os.Chtimes(filepath.Join(x.dir, "sessionid"+v.cookie), when, when); err != nil {
			t.Fatal(err)
		}
	}

	switch x.backend {
	case "file":
		for _, byGo := range []bool{true, false} {
			for _, live := range []bool{true, false} {
				v := x.visitor()
				if byGo {
					v.goGet("/count/")
				} else {
					v.djGet("/count/")
				}
				if live {
					age(v, cookieAge-time.Minute)
				} else {
					age(v, cookieAge+time.Minute)
				}
				check(fmt.Sprintf("saved by the demo: %v, SESSION_COOKIE_AGE ago give or take a minute", byGo), v, live)
			}
		}
		return
	case "db":
		// set_expiry(N) stores expire_date = the save's time + N.
		for _, live := range []bool{true, false} {
			v := x.visitor()
			ago := 2*time.Hour + time.Minute
			if live {
				ago = 2*time.Hour - time.Minute
			}
			v.djDo(djangointerop.Request{Path: "/count/?expiry=7200", Time: now.Add(-ago)})
			check(fmt.Sprintf("Django's set_expiry(7200) %v ago", ago), v, live)
		}
	}
	// The default expiry: SESSION_COOKIE_AGE after the last save (for
	// signed_cookies, the signing time).
	for _, live := range []bool{true, false} {
		ago := cookieAge + time.Minute
		if live {
			ago = cookieAge - time.Minute
		}
		v := x.visitor()
		v.djDo(djangointerop.Request{Path: "/count/", Time: now.Add(-ago)})
		check(fmt.Sprintf("saved by Django %v ago", ago), v, live)

		// Go, on a clock as far back.
		e := x.engine(t, func() time.Time { return now.Add(-ago) })
		s, _ := e.Load(ctx, "")
		s.Set("count", 1)
		if err := e.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("saved by Go %v ago", ago), &visitor{x: x, cookie: s.ID()}, live)
	}
}

// TestDemo_DjangoEngines serves the demo on each of Django's engines,
// without Django: set, get, delete and flush as on the demo's own.
func TestDemo_DjangoEngines(t *testing.T) {
	for _, backend := range []string{"db", "file", "signed_cookies"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			engine := "django.contrib.sessions.backends." + backend
			env := map[string]string{"SESSION_ENGINE": engine, "SESSION_FILE_PATH": dir, "DATABASE_URL": "",
				"SECRET_KEY": newKey, "SECRET_KEY_FALLBACKS": "", "SESSION_COOKIE_AGE": ""}
			base, logs := startDemo(t, env)
			want := map[string]string{
				"db":             `store=django-db:sqlite:` + filepath.Join(dir, "db.sqlite3") + ` sessions="Django's table django_session of the SQLite database `,
				"file":           `store=django-file:` + dir + ` sessions="Django's file backend: one file per session under ` + dir,
				"signed_cookies": `sessions="in the cookie, signed with SECRET_KEY`,
			}[backend]
			if s := logs.String(); !strings.Contains(s, "engine="+engine+" "+want) {
				t.Errorf("startup log lacks %q:\n%s", want, s)
			}
			checkSetGetDelFlush(t, base, backend != "signed_cookies")
			if backend != "signed_cookies" {
				b := newBrowser(t, base)
				b.get("/set/")
				if !djangosession.ValidSessionKey(b.cookie()) {
					t.Errorf("session cookie %q is not a Django session key", b.cookie())
				}
			}
		})
	}
}

func TestDemo_DjangoEnginesNeedSecretKey(t *testing.T) {
	t.Setenv("SECRET_KEY", "")
	t.Setenv("SESSION_FILE_PATH", t.TempDir())
	for _, backend := range []string{"db", "file", "signed_cookies"} {
		t.Setenv("SESSION_ENGINE", "django.contrib.sessions.backends."+backend)
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "SECRET_KEY is not set") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s without SECRET_KEY: %v", backend, err)
		}
	}
	t.Setenv("SECRET_KEY", newKey)
	t.Setenv("SESSION_COOKIE_AGE", "two weeks")
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `SESSION_COOKIE_AGE="two weeks": want a whole number of seconds`) {
		t.Errorf("a bad SESSION_COOKIE_AGE: %v", err)
	}
}

func TestDemo_HelpListsTheEnvironment(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-h"}, &out, nil); err == nil || !strings.Contains(err.Error(), "help") {
		t.Fatalf("run -h = %v", err)
	}
	for _, want := range []string{
		"SESSION_ENGINE", "bolt, cached, cookie, db, file, memory, redis (default bolt)",
		"django.contrib.sessions.backends.{db,file,signed_cookies}",
		"SESSION_FILE_PATH", "DATABASE_URL", "REDIS_URL", "SESSION_SECRET_KEY",
		"SECRET_KEY\n", "SECRET_KEY_FALLBACKS", "comma-separated", "SESSION_COOKIE_AGE", "-addr",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, out.String())
		}
	}
}
