package main

import (
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// humanBytes formats n bytes with a binary unit: "312 B", "4.0 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

const day = 24 * time.Hour

// humanDuration formats d with its two largest units: "13d4h", "2h5m",
// "42s"; negative durations get a minus sign.
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	switch {
	case d >= day:
		return fmt.Sprintf("%dd%dh", d/day, d%day/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// humanExpiry formats an expiry time and how far away it is.
func humanExpiry(t, now time.Time) string {
	left := t.Sub(now)
	when := "in " + humanDuration(left)
	if left < 0 {
		when = humanDuration(-left) + " ago"
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), when)
}

// plural returns n and noun, with an s unless n is 1: "1 session",
// "2 sessions", "0 sessions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printable returns s as it is when every character in it prints as
// itself, and otherwise s quoted with Go's escapes ("\x1b[2J", "a\nb",
// "\u202e"). Session data is client-influenced: a user ID or a key read
// from a damaged store could otherwise clear the operator's screen,
// retitle the terminal or forge table rows. Every human-readable output of
// store data goes through it; JSON output escapes on its own.
func printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// escapeJSON rewrites, in JSON that encoding/json wrote, every character
// that does not print as itself (C1 controls such as U+009B, bidirectional
// overrides such as U+202E, other format characters) as a \u escape.
// encoding/json leaves those raw, and they would reach the operator's
// terminal; the result is the same JSON document.
func escapeJSON(b []byte) []byte {
	clean := true
	for _, r := range string(b) {
		if r != '\n' && !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for _, r := range string(b) {
		if r == '\n' || unicode.IsPrint(r) {
			out = utf8.AppendRune(out, r)
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			continue
		}
		out = fmt.Appendf(out, `\u%04x`, r)
	}
	return out
}
