package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/redisstore/redistest"
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
	for _, engine := range []string{"bolt", "file", "memory", "cookie", "redis", "cached"} {
		t.Run(engine, func(t *testing.T) {
			env := map[string]string{"SESSION_ENGINE": engine, "SESSION_FILE_PATH": t.TempDir()}
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

func TestDemo_SessionsSurviveRestartOnBolt(t *testing.T) {
	env := map[string]string{"SESSION_ENGINE": "bolt", "SESSION_FILE_PATH": t.TempDir()}
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
