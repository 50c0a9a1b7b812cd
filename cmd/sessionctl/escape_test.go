package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
)

// hostileUserIDs are user IDs that a raw terminal would act on: clear the
// screen, retitle the window, forge a table row, reverse the text.
var hostileUserIDs = []string{
	"\x1b[2J\x1b[H",
	"\x1b]0;pwned\x07",
	"eve\n" + strings.Repeat("f", 64) + "  admin  1 KiB  2099-01-01",
	"\u202etxt.exe",
	"cr\rover",
	"c1\u009bcontrol",
	"bad\xffutf8",
}

// hasRawControl reports whether out holds a control or format character
// other than the newlines and tabs that lay out the output.
func hasRawControl(out string) bool {
	for _, r := range out {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e || r == 0xfffd) {
			return true
		}
	}
	return false
}

func TestHumanOutput_EscapesControlCharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, uid := range hostileUserIDs {
		rec := session.Record{Data: []byte{0x80}, Expires: time.Now().Add(time.Hour), UserID: uid}
		if err := st.Save(ctx, session.StoreKey(string(rune('a'+i))), rec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	store := "bolt:" + path
	out := ok(t, nil, "ls", "--store", store)
	if hasRawControl(out) {
		t.Errorf("ls printed raw control characters:\n%q", out)
	}
	if rows := strings.Count(out, "\n"); rows != len(hostileUserIDs)+2 { // header, rows, count
		t.Errorf("ls printed %d lines for %d sessions (a forged row?):\n%s", rows, len(hostileUserIDs), out)
	}
	if !strings.Contains(out, `"\x1b[2J\x1b[H"`) {
		t.Errorf("ls does not show the escaped user ID:\n%s", out)
	}
	for _, uid := range hostileUserIDs {
		for _, args := range [][]string{{"ls", "--user", uid}, {"revoke", "--user", uid}} {
			r := sessionctl(t, nil, append(args, "--store", store)...)
			if hasRawControl(r.stdout) || hasRawControl(r.stderr) {
				t.Errorf("%s %q printed raw control characters: %q %q", args[0], uid, r.stdout, r.stderr)
			}
		}
	}
	// An error message that quotes a hostile argument escapes it too.
	r := sessionctl(t, nil, "show", "--store", store, "\x1b[2Jkey")
	if r.code != exitUsage || hasRawControl(r.stderr) {
		t.Errorf("show with a hostile key: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"alice":       "alice",
		"Zoë 東京":      "Zoë 東京",
		"a b":         "a b",
		"\x1b[2J":     `"\x1b[2J"`,
		"a\nb":        `"a\nb"`,
		"\u202eabc":   `"\u202eabc"`,
		"bad\xffutf8": `"bad\xffutf8"`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestShow_MalformedKeyIsAUsageErrorOnEveryStore(t *testing.T) {
	dir := t.TempDir()
	fst, err := filestore.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fst.Close()
	bolt, _ := newBolt(t)
	for _, store := range []string{"bolt:" + bolt, "file:" + dir, "memory:"} {
		for _, key := range []string{"nothex", strings.Repeat("A", 64), strings.Repeat("a", 63), "../../etc/passwd"} {
			fails(t, nil, exitUsage, "not a store key", "show", "--store", store, key)
		}
	}
}

func TestEscapeJSON_KeepsTheDocumentAndHidesNothing(t *testing.T) {
	in := map[string]string{"c1": "a\u009b2J", "bidi": "\u202etxt", "emoji": "🙂", "plain": "Zoë 東京", "tag": "\U000e0041"}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := escapeJSON(b)
	if hasRawControl(string(out)) || strings.ContainsRune(string(out), 0xe0041) {
		t.Errorf("escapeJSON left raw controls: %q", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("escapeJSON broke the document: %v\n%s", err, out)
	}
	for k, v := range in {
		if back[k] != v {
			t.Errorf("%s: %q came back as %q", k, v, back[k])
		}
	}
	if !strings.Contains(string(out), "🙂") || !strings.Contains(string(out), "東京") {
		t.Errorf("escapeJSON escaped printable text: %s", out)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 sessions", 1: "1 session", 2: "2 sessions"} {
		if got := plural(n, "session"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
