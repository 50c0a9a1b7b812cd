// Package djangointerop runs a small Django project, the seed's session
// views, for tests that share sessions between Go and Django itself: the
// demo server (cmd/sessiondemo) and the operator tool (cmd/sessionctl) on
// one side, Django's own session backends on the other, on one store.
//
// The project is in testdata/django: the views of the seed's programs 1
// and 2 (setsession, getsession, delsession at /set/, /get/ and /del/),
// and the views the tests add, each the counterpart of a Go demo route on
// the same session keys: /count/ (an int under "count"; ?read=1 reads it,
// ?expiry=N also calls set_expiry(N)), /flush/, /setall/ (a value of every
// JSON type Django stores), /getall/ (every item with its Python type, as
// JSON) and /login/?uid=ID (the session keys of django.contrib.auth's
// login). Start configures Django with settings.configure as a settings.py
// would (SESSION_ENGINE, SECRET_KEY, SESSION_FILE_PATH, DATABASES, ...)
// and serves the project through Django's test client (django.test.Client)
// in one long-lived Python process, which answers requests as the test
// sends them: Django starts once per Start, in about a third of a second,
// and a request then takes about a millisecond. The test plays the
// browser: it passes the session cookie from one side to the other.
//
// Django is the Debian package python3-django (Django 3.2), run by
// /usr/bin/python3; PostgreSQL databases also need python3-psycopg2.
// Without them the tests that need them are skipped, with a notice on
// stderr, unless SESSIONKV_REQUIRE_DJANGO is "1": then they fail.
//
// A *Django is safe for concurrent use; its requests are served one at a
// time.
package djangointerop

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that, set to "1", turns a missing
// Django (or psycopg2, for PostgreSQL) into a test failure instead of a
// skip; CI sets it.
const RequireEnv = "SESSIONKV_REQUIRE_DJANGO"

// Python is the interpreter of the Debian packages python3-django and
// python3-psycopg2.
const Python = "/usr/bin/python3"

// project is testdata/django, named file by file: a directory pattern
// would leave out the packages' __init__.py files.
//
//go:embed testdata/django/*.py testdata/django/sessionframework/*.py
//go:embed testdata/django/student/*.py testdata/django/student/templates/student/*.html
var project embed.FS

// Config is the Django project's session settings.
type Config struct {
	// Engine is the last part of SESSION_ENGINE: "db", "file" or
	// "signed_cookies".
	Engine string
	// SecretKey is SECRET_KEY.
	SecretKey string
	// FilePath is SESSION_FILE_PATH; "" leaves Django's default.
	FilePath string
	// DatabaseURL is the database of the db engine, as sqlstore names it:
	// "sqlite:/path/db.sqlite3" or "postgres://USER[:PASSWORD]@HOST:PORT/DB".
	// Django's table is django_session whatever the URL says. "" gives
	// Django an unused in-memory database.
	DatabaseURL string
	// CookieAge is SESSION_COOKIE_AGE; 0 leaves Django's default, two
	// weeks.
	CookieAge time.Duration
	// Migrate runs the sessions app's migration first, as "manage.py
	// migrate --fake-initial sessions" does: it creates django_session,
	// or takes the table a Go store created as Django's own.
	Migrate bool
}

// Request is one request to the Django project.
type Request struct {
	// Path is the path and query: "/get/", "/count/?read=1".
	Path string
	// Cookie is the session cookie's value to send; "" sends none.
	Cookie string
	// SecretKey, if set, is SECRET_KEY for this request alone.
	SecretKey string
	// Time, if set, is the time Django sees during the request
	// (time.time and timezone.now): when it signs, and when it judges
	// expiry.
	Time time.Time
}

// Response is Django's answer to a Request.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Body is the response body.
	Body string
	// Cookie is the session cookie Django set, nil if it set none.
	Cookie *Cookie
}

// Cookie is a session cookie Django set.
type Cookie struct {
	// Value is the cookie's value: the session key, or the signed
	// session of signed_cookies; "" when Django deleted the cookie.
	Value string
	// MaxAge is the Max-Age attribute as Django wrote it ("" for none).
	MaxAge string
}

// Django is a running Django project; see Start.
type Django struct {
	version string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer that the runner's stderr and a failing
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	checkOnce  sync.Once
	checkErr   error
	pgOnce     sync.Once
	pgErr      error
	skipNotice sync.Once
)

// Require skips tb, or fails it when RequireEnv is "1", unless
// /usr/bin/python3 can import Django.
func Require(tb testing.TB) {
	tb.Helper()
	checkOnce.Do(func() { checkErr = canImport("django") })
	require(tb, checkErr, "install the python3-django package, e.g. with scripts/django-deps.sh")
}

// RequirePostgres is Require for Django on PostgreSQL: Django and psycopg2.
func RequirePostgres(tb testing.TB) {
	tb.Helper()
	Require(tb)
	pgOnce.Do(func() { pgErr = canImport("psycopg2") })
	require(tb, pgErr, "install the python3-psycopg2 package")
}

// canImport reports why Python cannot import module, or nil.
func canImport(module string) error {
	out, err := exec.Command(Python, "-c", "import "+module).CombinedOutput()
	if err != nil {
		// The last line of a traceback says what went wrong.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("%s cannot import %s (%v: %s)", Python, module, err, lines[len(lines)-1])
	}
	return nil
}

func require(tb testing.TB, err error, fix string) {
	tb.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("djangointerop: %v, so the tests against Django do not run (%s)", err, fix)
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s; %s=1 requires them", msg, RequireEnv)
	}
	skipNotice.Do(func() { fmt.Fprintln(os.Stderr, "SKIP", msg) })
	tb.Skip(msg)
}

// Start starts the Django project with c's settings, skipping tb as
// Require (or RequirePostgres) does when Django is missing. The process
// ends with tb's cleanup.
func Start(tb testing.TB, c Config) *Django {
	tb.Helper()
	config, err := c.settings()
	if err != nil {
		tb.Fatalf("djangointerop: %v", err)
	}
	if strings.Contains(config["database"].(map[string]any)["ENGINE"].(string), "postgresql") {
		RequirePostgres(tb)
	} else {
		Require(tb)
	}
	dir := tb.TempDir()
	sub, _ := fs.Sub(project, "testdata/django")
	if err := os.CopyFS(dir, sub); err != nil {
		tb.Fatalf("djangointerop: copy the project: %v", err)
	}
	arg, _ := json.Marshal(config)
	d := &Django{stderr: &syncBuffer{}}
	d.cmd = exec.Command(Python, filepath.Join(dir, "runner.py"), string(arg))
	d.cmd.Stderr = d.stderr
	d.cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	d.out = bufio.NewReaderSize(stdout, 1<<16)
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("djangointerop: start %s: %v", Python, err)
	}
	tb.Cleanup(d.stop)
	var ready struct {
		Ready  bool
		Django string
	}
	if err := d.read(&ready); err != nil || !ready.Ready {
		tb.Fatalf("djangointerop: Django did not start: %v\n%s", err, d.stderr)
	}
	d.version = ready.Django
	return d
}

// settings returns the runner's configuration for c.
func (c Config) settings() (map[string]any, error) {
	switch c.Engine {
	case "db", "file", "signed_cookies":
	default:
		return nil, fmt.Errorf("unknown engine %q: want db, file or signed_cookies", c.Engine)
	}
	if c.SecretKey == "" {
		return nil, fmt.Errorf("no SecretKey")
	}
	db, err := databaseOf(c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"engine":     c.Engine,
		"secret_key": c.SecretKey,
		"file_path":  c.FilePath,
		"cookie_age": int64(c.CookieAge / time.Second),
		"database":   db,
		"migrate":    c.Migrate,
	}, nil
}

// databaseOf returns Django's DATABASES["default"] for a database URL.
func databaseOf(raw string) (map[string]any, error) {
	if raw == "" {
		return map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}, nil
	}
	if path, ok := strings.CutPrefix(raw, "sqlite:"); ok {
		path, _, _ = strings.Cut(path, "?")
		return map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": path}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("database URL %q: want sqlite:PATH or postgres://USER@HOST:PORT/DB", raw)
	}
	pw, _ := u.User.Password()
	return map[string]any{
		"ENGINE":   "django.db.backends.postgresql",
		"NAME":     strings.TrimPrefix(u.Path, "/"),
		"USER":     u.User.Username(),
		"PASSWORD": pw,
		"HOST":     u.Hostname(),
		"PORT":     u.Port(),
	}, nil
}

// Version returns Django's version, as django.get_version() prints it.
func (d *Django) Version() string { return d.version }

// Do sends reqs to Django in one batch and returns its responses, in
// order. It fails tb when Django cannot answer or a view raised.
func (d *Django) Do(tb testing.TB, reqs ...Request) []Response {
	tb.Helper()
	type wireReq struct {
		Path      string   `json:"path"`
		Cookie    string   `json:"cookie,omitempty"`
		SecretKey string   `json:"secret_key,omitempty"`
		Time      *float64 `json:"time,omitempty"`
	}
	type wireResp struct {
		Status int
		Body   string
		Cookie *struct {
			Value  string
			MaxAge string `json:"max_age"`
		}
		Error string
	}
	in := make([]wireReq, len(reqs))
	for i, r := range reqs {
		in[i] = wireReq{Path: r.Path, Cookie: r.Cookie, SecretKey: r.SecretKey}
		if !r.Time.IsZero() {
			t := float64(r.Time.UnixNano()) / 1e9
			in[i].Time = &t
		}
	}
	line, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	var out []wireResp
	d.mu.Lock()
	_, err = d.stdin.Write(append(line, '\n'))
	if err == nil {
		err = d.read(&out)
	}
	d.mu.Unlock()
	if err != nil {
		tb.Fatalf("djangointerop: %v\n%s", err, d.stderr)
	}
	if len(out) != len(reqs) {
		tb.Fatalf("djangointerop: %d responses to %d requests", len(out), len(reqs))
	}
	res := make([]Response, len(out))
	for i, o := range out {
		if o.Error != "" {
			tb.Fatalf("djangointerop: GET %s: the view raised %s", reqs[i].Path, o.Error)
		}
		res[i] = Response{Status: o.Status, Body: o.Body}
		if o.Cookie != nil {
			res[i].Cookie = &Cookie{Value: o.Cookie.Value, MaxAge: o.Cookie.MaxAge}
		}
	}
	return res
}

// Get sends one request for path with the session cookie value cookie
// ("" for none).
func (d *Django) Get(tb testing.TB, path, cookie string) Response {
	tb.Helper()
	return d.Do(tb, Request{Path: path, Cookie: cookie})[0]
}

// read decodes the next line of the runner's output into v.
func (d *Django) read(v any) error {
	line, err := d.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read from runner.py: %w", err)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("runner.py's answer %q: %w", line, err)
	}
	return nil
}

// stop ends the runner: it exits when its input closes.
func (d *Django) stop() {
	d.stdin.Close()
	done := make(chan struct{})
	go func() {
		d.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}
