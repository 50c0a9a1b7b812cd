// Package e2e holds the end-to-end tests of sessionkv that need more than
// the library's dependencies: a real browser.
//
// The tests build cmd/sessiondemo, run it as a process on a free loopback
// port with its default store (bolt) in a temporary SESSION_FILE_PATH, and
// drive headless Chromium at it through the Chrome DevTools Protocol with
// github.com/chromedp/chromedp. This directory is its own module, so the
// browser driver never enters the library's go.mod:
//
//	../scripts/chromium-deps.sh     # installs Debian's chromium if /usr/bin/chromium is missing
//	go test ./...                   # from this directory
//
// Without /usr/bin/chromium the tests skip with a loud message; with
// SESSIONKV_REQUIRE_BROWSER=1 they fail instead, as CI wants. Screenshots go
// to the directory named by E2E_ARTIFACTS (default: a temporary directory
// that the test logs).
package e2e
