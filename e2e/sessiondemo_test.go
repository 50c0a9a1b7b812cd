package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkv/session/internal/soak"
)

// cookieName is the demo's session cookie (Django's default name).
const cookieName = "sessionid"

// TestSessionDemo_Browser_SetGetDelFlush walks Django's session example in a
// real browser: /set/ stores a name, /get/ shows it with the keys and items,
// /del/ removes it, /flush/ ends the session and its cookie. Along the way it
// checks what the browser holds: an HttpOnly, SameSite=Lax cookie that
// page scripts cannot read, and that another browser context does not share.
func TestSessionDemo_Browser_SetGetDelFlush(t *testing.T) {
	requireChromium(t)
	base := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	tab := startBrowser(t, ctx)

	visit(t, tab, base+"/set/")
	id := checkSessionCookie(t, tab)
	checkScriptsCannotReadSessionCookie(t, tab, id)

	visit(t, tab, base+"/get/")
	checkGetPage(t, tab, "Sonam rathore", [][]string{{"age", "26"}, {"lname", "rathore"}, {"name", "Sonam"}})
	saveScreenshot(t, tab, "sessiondemo-get.png")

	checkOtherContextIsolated(t, tab, base, id)

	visit(t, tab, base+"/del/")
	visit(t, tab, base+"/get/")
	checkGetPage(t, tab, "Guest Guest", [][]string{{"age", "26"}})
	if c := cookieNamed(t, tab, cookieName); c == nil || c.Value != id {
		t.Errorf("the session cookie changed on /del/: %+v", c)
	}

	visit(t, tab, base+"/flush/")
	if c := cookieNamed(t, tab, cookieName); c != nil {
		t.Errorf("/flush/ left the session cookie: %+v", c)
	}
	visit(t, tab, base+"/get/")
	checkGetPage(t, tab, "Guest Guest", [][]string{{"age", "26"}})
	if c := cookieNamed(t, tab, cookieName); c == nil || c.Value == id {
		t.Errorf("after /flush/, /get/ should start a new session, got cookie %+v", c)
	}
}

// startDemo builds and starts the demo with its default store in a
// temporary SESSION_FILE_PATH, and stops it when the test ends. It returns
// the demo's base URL. The build has its own, longer, time limit: with a
// cold build cache it compiles the whole store stack.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := soak.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	demo, err := soak.Start(bin, []string{"SESSION_FILE_PATH=" + t.TempDir()}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := demo.Stop(); err != nil {
			t.Errorf("demo shutdown: %v\n%s", err, demo.Logs())
		}
		if t.Failed() {
			t.Logf("demo log:\n%s", demo.Logs())
		}
	})
	if demo.Engine != "bolt" {
		t.Fatalf("the demo runs on %q, want its default, bolt", demo.Engine)
	}
	return demo.URL
}

// visit navigates the tab to url and requires a 200 answer.
func visit(t *testing.T, tab context.Context, url string) {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	if resp.Status != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.Status, resp.StatusText)
	}
}

// checkSessionCookie requires the session cookie with the demo's
// attributes (Django's defaults) and returns its value, the session ID.
func checkSessionCookie(t *testing.T, tab context.Context) string {
	t.Helper()
	c := cookieNamed(t, tab, cookieName)
	if c == nil {
		t.Fatalf("no %s cookie after /set/; cookies: %v", cookieName, cookies(t, tab))
	}
	if !c.HTTPOnly {
		t.Error("the session cookie is not HttpOnly")
	}
	if c.SameSite != network.CookieSameSiteLax {
		t.Errorf("the session cookie has SameSite=%q, want Lax", c.SameSite)
	}
	if c.Path != "/" {
		t.Errorf("the session cookie has Path=%q, want /", c.Path)
	}
	if c.Session {
		t.Error("the session cookie ends with the browser; the demo keeps sessions for two weeks")
	}
	if expires := time.Unix(int64(c.Expires), 0); time.Until(expires) < 13*24*time.Hour {
		t.Errorf("the session cookie expires %v, want about two weeks from now", expires)
	}
	return c.Value
}

// checkScriptsCannotReadSessionCookie sets a cookie from a page script, to
// show that scripts can read cookies at all, then requires that
// document.cookie shows that one and not the session cookie.
func checkScriptsCannotReadSessionCookie(t *testing.T, tab context.Context, id string) {
	t.Helper()
	visible, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`document.cookie = "script_visible=1; path=/; samesite=lax"; document.cookie`))
	if err != nil {
		t.Fatalf("document.cookie: %v", err)
	}
	if !strings.Contains(visible, "script_visible=1") {
		t.Fatalf("document.cookie = %q: scripts cannot read cookies at all, so the check below proves nothing", visible)
	}
	if strings.Contains(visible, cookieName) || strings.Contains(visible, id) {
		t.Errorf("document.cookie reveals the session cookie: %q", visible)
	}
}

// checkGetPage requires the /get/ page to greet name and to list exactly
// the given items, sorted by key, and their keys.
func checkGetPage(t *testing.T, tab context.Context, name string, items [][]string) {
	t.Helper()
	greeting, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("name")))
	if err != nil {
		t.Fatalf("read #name: %v", err)
	}
	if greeting != name {
		t.Errorf("/get/ greets %q, want %q", greeting, name)
	}
	keys, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#keys .value")].map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("read #keys: %v", err)
	}
	var wantKeys []string
	for _, kv := range items {
		wantKeys = append(wantKeys, kv[0])
	}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("/get/ lists keys %q, want %q", keys, wantKeys)
	}
	rows, err := chromedp.Run(tab, chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll("#items tr")].slice(1).map(r => [...r.cells].map(c => c.textContent.trim()))`))
	if err != nil {
		t.Fatalf("read #items: %v", err)
	}
	if !slices.EqualFunc(rows, items, slices.Equal) {
		t.Errorf("/get/ lists items %q, want %q", rows, items)
	}
}

// checkOtherContextIsolated opens a second browser context, which shares
// the browser process but not its cookies, and requires that it does not
// see the first context's session: it is greeted as a guest and gets a
// session of its own.
func checkOtherContextIsolated(t *testing.T, tab context.Context, base, id string) {
	t.Helper()
	other := newIncognito(t, tab)
	if c := cookieNamed(t, other, cookieName); c != nil {
		t.Fatalf("a new browser context starts with the session cookie: %+v", c)
	}
	visit(t, other, base+"/get/")
	checkGetPage(t, other, "Guest Guest", [][]string{{"age", "26"}})
	if c := cookieNamed(t, other, cookieName); c == nil || c.Value == id {
		t.Errorf("the second browser context should get a session of its own, got cookie %+v", c)
	}
	if c := cookieNamed(t, tab, cookieName); c == nil || c.Value != id {
		t.Errorf("the first context's session cookie changed: %+v", c)
	}
}

// saveScreenshot saves a PNG of the whole page in the artifacts directory:
// E2E_ARTIFACTS, else a temporary directory.
func saveScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of /get/: %s", path)
}
