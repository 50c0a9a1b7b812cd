package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/sessionkv/session/internal/testkit"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// requireChromium skips the test when Chromium is not installed, loudly, or
// fails it when SESSIONKV_REQUIRE_BROWSER=1.
func requireChromium(t *testing.T) {
	t.Helper()
	_, err := os.Stat(chromiumPath)
	if err == nil {
		return
	}
	msg := fmt.Sprintf("\n"+
		"********************************************************************\n"+
		"*** NO BROWSER: %v\n"+
		"*** The browser tests did not run. Install Chromium with\n"+
		"*** scripts/chromium-deps.sh; SESSIONKV_REQUIRE_BROWSER=1 turns this\n"+
		"*** skip into a failure.\n"+
		"********************************************************************", err)
	if os.Getenv("SESSIONKV_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// browserFlags are Chromium's command line flags, besides the profile
// directory: headless, no sandbox (CI runs as root in a container), no GPU,
// and nothing that talks to the network on its own, so the only traffic is
// the test's, on loopback.
var browserFlags = []string{
	"headless",
	"no-sandbox",
	"disable-gpu",
	"disable-background-networking",
	"disable-component-update",
	"disable-sync",
	"no-first-run",
	"disable-quic",
}

// startBrowser starts headless Chromium with a fresh profile directory and
// returns a chromedp context for its first tab. The browser is closed, and
// checked to have left no process behind, when the test ends.
func startBrowser(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	adoptOrphans(t)
	profile := t.TempDir()
	output := &testkit.LogBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(output),
	}
	for _, f := range browserFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		closeBrowser(t, tab)
		cancelTab()
		cancelAlloc() // returns once the browser process has exited
		reapChromium(t, 5*time.Second)
		checkNoProcessesUsing(t, profile)
		if t.Failed() {
			t.Logf("chromium output:\n%s", output)
		}
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}

// closeBrowser asks the browser to close and waits up to ten seconds.
func closeBrowser(t *testing.T, tab context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	if err := chromedp.Cancel(ctx); err != nil && ctx.Err() == nil && tab.Err() == nil {
		t.Logf("close chromium: %v", err)
	}
}

// checkNoProcessesUsing fails the test if any process still runs with the
// profile directory on its command line five seconds after the browser was
// closed, and kills those processes, which this test started.
func checkNoProcessesUsing(t *testing.T, profile string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesUsing(profile)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("chromium processes left running after close: %v; killing them", pids)
			for _, pid := range pids {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesUsing returns the IDs of the processes whose command line has
// --user-data-dir=profile. It returns nil where /proc is not available.
func processesUsing(profile string) []int {
	want := []byte("--user-data-dir=" + profile)
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, path := range cmdlines {
		cmdline, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// newIncognito returns a context for a tab in a new browser context of the
// same browser: its own cookies and storage, as an incognito window has. It
// is disposed of when the test ends.
func newIncognito(t *testing.T, tab context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a new browser context: %v", err)
	}
	return ctx
}

// cookies returns every cookie of the browser context of ctx, read through
// the DevTools storage API, which sees HttpOnly cookies as well.
func cookies(t *testing.T, ctx context.Context) []*network.Cookie {
	t.Helper()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
	})
	if err != nil {
		t.Fatalf("Storage.getCookies: %v", err)
	}
	return res.Cookies
}

// cookieNamed returns the cookie called name in the browser context of ctx,
// or nil.
func cookieNamed(t *testing.T, ctx context.Context, name string) *network.Cookie {
	t.Helper()
	for _, c := range cookies(t, ctx) {
		if c.Name == name {
			return c
		}
	}
	return nil
}
