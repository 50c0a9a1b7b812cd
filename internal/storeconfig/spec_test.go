package storeconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session/boltstore"
)

func TestParseURL(t *testing.T) {
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		in   string
		want Spec
		str  string
	}{
		{"bolt:/var/lib/app/sessions.db", Spec{Engine: "bolt", Path: "/var/lib/app/sessions.db"}, "bolt:/var/lib/app/sessions.db"},
		{"BOLT:/var/lib/app//x.db", Spec{Engine: "bolt", Path: "/var/lib/app/x.db"}, "bolt:/var/lib/app/x.db"},
		{"bolt:rel/s.db", Spec{Engine: "bolt", Path: "rel/s.db"}, "bolt:" + filepath.Join(cwd, "rel/s.db")},
		{"file:/var/lib/app/sessions", Spec{Engine: "file", Path: "/var/lib/app/sessions"}, "file:/var/lib/app/sessions"},
		{"file:///var/lib/app/my%20sessions", Spec{Engine: "file", Path: "/var/lib/app/my sessions"}, "file:/var/lib/app/my sessions"},
		{"file://localhost/srv/s", Spec{Engine: "file", Path: "/srv/s"}, "file:/srv/s"},
		{"memory:", Spec{Engine: "memory"}, "memory:"},
		{"redis://127.0.0.1:6379/0", Spec{Engine: "redis", URL: "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0"},
		{"rediss://u:secret@cache:6380/2?prefix=app:", Spec{Engine: "redis", URL: "rediss://u:secret@cache:6380/2?prefix=app:"},
			"rediss://u:xxxxx@cache:6380/2?prefix=app:"},
	} {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParseURL_Errors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
		text string
	}{
		{"mongo://db/x", ErrUnknownScheme, `"mongo"`},
		{"s3:bucket", ErrUnknownScheme, "known: bolt, file, memory, redis, rediss"},
		{"/var/lib/app/sessions.db", ErrBadURL, "SCHEME:PATH"},
		{"", ErrBadURL, "SCHEME:PATH"},
		{"bolt://otherhost/x.db", ErrBadURL, "local paths"},
		{"bolt:", ErrBadURL, "needs a path"},
		{"BOLT: ", ErrBadURL, "needs a path"},
		{"bolt://", ErrBadURL, "needs a path"},
		{"file:", ErrBadURL, "needs a path"},
		{"file:///x?y=1", ErrBadURL, "no query"},
		{"memory:/x", ErrBadURL, "no path"},
		{"redis://", ErrBadURL, "HOST"},
		{"redis://h:1/0?bogus=1", ErrBadURL, "bogus"},
		{"redis://u:secret@h:1/zero", ErrBadURL, "xxxxx"},
	} {
		_, err := ParseURL(tc.in)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "secret") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q) = %v, want %v mentioning %q", tc.in, err, tc.want, tc.text)
		}
	}
}

func TestSpecFor_MatchesWhatOpenUses(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvFilePath, dir)
	for _, tc := range []struct {
		engine, path string
		want         string
	}{
		{"", dir, "bolt:" + filepath.Join(dir, "sessions.db")},
		{"", "", "bolt:" + filepath.Join(dir, "sessions.db")}, // boltstore.DefaultPath reads the env
		{"file", dir, "file:" + dir},
		{"file", "", "file:" + dir},
		{" Memory ", dir, "memory:"},
	} {
		s, err := SpecFor(tc.engine, tc.path)
		if err != nil || s.String() != tc.want {
			t.Errorf("SpecFor(%q, %q) = %v, %v; want %s", tc.engine, tc.path, s, err, tc.want)
		}
	}
	t.Setenv(EnvEngine, "file")
	if s, err := EnvSpec(); err != nil || s.String() != "file:"+dir {
		t.Errorf("EnvSpec = %v, %v", s, err)
	}
	t.Setenv(EnvRedisURL, "")
	if s, err := SpecFor("redis", ""); err != nil || s.String() != DefaultRedisURL {
		t.Errorf("SESSION_ENGINE=redis without REDIS_URL = %v, %v; want %s", s, err, DefaultRedisURL)
	}
	t.Setenv(EnvRedisURL, "redis://10.0.0.9:6380/2")
	if s, _ := SpecFor("redis", ""); s.String() != "redis://10.0.0.9:6380/2" {
		t.Errorf("SESSION_ENGINE=redis ignores REDIS_URL: %v", s)
	}
}

func TestSameStore(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	a, _ := ParseURL("file:" + dir)
	b, _ := ParseURL("file://" + dir + "/")
	c, _ := ParseURL("file:" + link)
	d, _ := ParseURL("bolt:" + dir)
	m, _ := ParseURL("memory:")
	if !a.SameStore(b) || !a.SameStore(c) || a.SameStore(d) || m.SameStore(m) {
		t.Error("SameStore is wrong")
	}
}

func TestOpenSpec_MustExistCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"bolt:" + filepath.Join(dir, "missing.db"), "store does not exist"},
		{"bolt:" + filepath.Join(dir, "sub", "missing.db"), "store does not exist"},
		{"bolt:" + dir, "not a regular file"},
		{"bolt:" + empty, "empty, not a bolt database"},
		{"file:" + filepath.Join(dir, "missing"), "store does not exist"},
		{"file:" + empty, "not a directory"},
	} {
		s, err := ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenSpec(s, &OpenOptions{MustExist: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), s.String()+": ") {
			t.Errorf("OpenSpec(%s) = %v, want %q", tc.url, err, tc.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("MustExist left %d entries in %s", len(entries), dir)
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Error("the empty file was made a database")
	}
}

func TestOpenSpec_OpensAndReportsWhere(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{"bolt:" + filepath.Join(dir, "s.db"), "file:" + filepath.Join(dir, "files"), "memory:"} {
		s, _ := ParseURL(url)
		o, err := OpenSpec(s, nil)
		if err != nil {
			t.Fatalf("OpenSpec(%s): %v", url, err)
		}
		if o.Spec.String() != url || o.Spec.Engine != s.Engine || o.Where == "" {
			t.Errorf("OpenSpec(%s) = %+v", url, o)
		}
		if err := o.Close(); err != nil {
			t.Error(err)
		}
		// Now it exists.
		o, err = OpenSpec(s, &OpenOptions{MustExist: true})
		if err != nil {
			t.Fatalf("OpenSpec(%s) again: %v", url, err)
		}
		o.Close()
	}
}

func TestOpenSpec_LockedBoltFailsWithinTheTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	held, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	s, _ := ParseURL("bolt:" + path)
	start := time.Now()
	_, err = OpenSpec(s, &OpenOptions{MustExist: true, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), "locked by another process") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("OpenSpec(locked) = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestOpenSpec_UnreachableRedis(t *testing.T) {
	s, err := ParseURL("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenSpec(s, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis") {
		t.Errorf("OpenSpec(unreachable) = %v", err)
	}
}
