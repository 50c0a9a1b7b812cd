package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/redisstore/redistest"
	"github.com/sessionkv/session/sqlstore"
)

// browser is an HTTP client with a cookie jar, like one browser profile.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) get(path string) string {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return string(body)
}

func (b *browser) cookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "sessionid" {
			return c.Value
		}
	}
	return ""
}

// startDemo runs the real server on a free loopback port until the test
// ends.
func startDemo(t *testing.T, env map[string]string) (base string, logs *testkit.LogBuffer) {
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs = &testkit.LogBuffer{}
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, logs, func(a string) { ready <- a })
	}()
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("demo exited: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo shutdown: %v", err)
		}
	})
	return base, logs
}

func TestDemo_SetGetDelFlush(t *testing.T) {
	for _, engine := range []string{"bolt", "file", "db", "memory", "cookie", "redis", "cached"} {
		t.Run(engine, func(t *testing.T) {
			env := map[string]string{"SESSION_ENGINE": engine, "SESSION_FILE_PATH": t.TempDir(), "DATABASE_URL": ""}
			if engine == "redis" {
				env["REDIS_URL"] = "redis://" + redistest.Start(t).Addr() + "/0"
			}
			base, _ := startDemo(t, env)
			// A cookie session's value is its content: it changes with it.
			checkSetGetDelFlush(t, base, engine != "cookie")
		})
	}
}

func checkSetGetDelFlush(t *testing.T, base string, stableID bool) {
	b := newBrowser(t, base)

	if page := b.get("/get/"); strings.Count(page, "Guest") != 2 {
		t.Errorf("/get/ before /set/ should greet Guest Guest:\n%s", page)
	}
	b.get("/set/")
	id := b.cookie()
	if id == "" {
		t.Fatal("no session cookie after /set/")
	}
	page := b.get("/get/")
	for _, want := range []string{"Sonam", "rathore", ">age<", ">lname<", ">name<", `id="age" class="value">26<`} {
		if !strings.Contains(page, want) {
			t.Errorf("/get/ lacks %q:\n%s", want, page)
		}
	}
	b.get("/del/")
	if page := b.get("/get/"); !strings.Contains(page, "Guest") || strings.Contains(page, "Sonam") {
		t.Errorf("/get/ after /del/:\n%s", page)
	}
	if stableID && b.cookie() != id {
		t.Error("the session ID changed without a login")
	}
	b.get("/flush/")
	if b.cookie() != "" {
		t.Error("/flush/ left the session cookie")
	}

	other := newBrowser(t, base)
	b.get("/set/")
	if page := other.get("/get/"); strings.Contains(page, "Sonam") {
		t.Error("a second browser sees the first one's session")
	}
}

func TestDemo_DefaultsToBoltInSessionFilePath(t *testing.T) {
	dir := t.TempDir()
	_, logs := startDemo(t, map[string]string{"SESSION_ENGINE": "", "SESSION_FILE_PATH": dir})
	if s := logs.String(); !strings.Contains(s, "engine=bolt") || !strings.Contains(s, dir) {
		t.Errorf("startup log: %s", s)
	}
}

func TestDemo_SessionsSurviveRestart(t *testing.T) {
	for _, env := range []map[string]string{
		{"SESSION_ENGINE": "bolt", "SESSION_FILE_PATH": t.TempDir()},
		{"SESSION_ENGINE": "db", "SESSION_FILE_PATH": t.TempDir(), "DATABASE_URL": ""},
	} {
		t.Run(env["SESSION_ENGINE"], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan string, 1)
			done := make(chan error, 1)
			for k, v := range env {
				t.Setenv(k, v)
			}
			go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, func(a string) { ready <- a }) }()
			b := newBrowser(t, "http://"+<-ready)
			b.get("/set/")
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			base, _ := startDemo(t, env)
			b.base = base
			if page := b.get("/get/"); !strings.Contains(page, "Sonam") {
				t.Errorf("session lost across a restart:\n%s", page)
			}
		})
	}
}

// TestDemo_DBEngine: SESSION_ENGINE=db keeps sessions in the SQLite file
// db.sqlite3 in SESSION_FILE_PATH, as Django's settings.py has it, or in
// DATABASE_URL's database and table, and says which.
func TestDemo_DBEngine(t *testing.T) {
	dir := t.TempDir()
	_, logs := startDemo(t, map[string]string{"SESSION_ENGINE": "db", "SESSION_FILE_PATH": dir, "DATABASE_URL": ""})
	path := filepath.Join(dir, "db.sqlite3")
	if s := logs.String(); !strings.Contains(s, "engine=db") || !strings.Contains(s, "table sessions of the SQLite database "+path) {
		t.Errorf("startup log: %s", s)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no db.sqlite3 in SESSION_FILE_PATH: %v", err)
	}

	db := filepath.Join(t.TempDir(), "app.sqlite3")
	base, logs := startDemo(t, map[string]string{"DATABASE_URL": "sqlite:" + db + "?table=app_sessions"})
	if s := logs.String(); !strings.Contains(s, "table app_sessions of the SQLite database "+db) {
		t.Errorf("startup log: %s", s)
	}
	b := newBrowser(t, base)
	b.get("/set/")
	if page := b.get("/get/"); !strings.Contains(page, "Sonam") || !strings.Contains(page, "table app_sessions") {
		t.Errorf("/get/ on DATABASE_URL's table:\n%s", page)
	}
	st, err := sqlstore.Open("sqlite:"+db, &sqlstore.Options{Table: "app_sessions", NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.Count(context.Background()); err != nil || n != 1 {
		t.Errorf("table app_sessions holds %d sessions, %v; want 1", n, err)
	}
}

func TestDemo_UnknownEngineFails(t *testing.T) {
	t.Setenv("SESSION_ENGINE", "nosuch")
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("run = %v, want an unknown engine error", err)
	}
}

func TestDemo_CountAndDebugVars(t *testing.T) {
	base, _ := startDemo(t, map[string]string{"SESSION_ENGINE": "memory"})
	b := newBrowser(t, base)
	for want := 1; want <= 3; want++ {
		if got := strings.TrimSpace(b.get("/count/")); got != fmt.Sprint(want) {
			t.Fatalf("/count/ = %s, want %d", got, want)
		}
	}
	if got := strings.TrimSpace(b.get("/count/?read=1")); got != "3" {
		t.Errorf("/count/?read=1 = %s, want 3", got)
	}
	if vars := b.get("/debug/vars"); !strings.Contains(vars, `"goroutines"`) || !strings.Contains(vars, `"memstats"`) {
		t.Errorf("/debug/vars lacks goroutines or memstats")
	}
}
