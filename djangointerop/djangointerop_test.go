package djangointerop

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDatabaseOf(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want map[string]any
	}{
		{"", map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
		{"sqlite:/srv/app/db.sqlite3?table=django_session", map[string]any{"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}},
		{"postgres://app:pw@127.0.0.1:5433/app_db", map[string]any{"ENGINE": "django.db.backends.postgresql",
			"NAME": "app_db", "USER": "app", "PASSWORD": "pw", "HOST": "127.0.0.1", "PORT": "5433"}},
	} {
		got, err := databaseOf(tc.url)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("databaseOf(%q) = %v, %v; want %v", tc.url, got, err, tc.want)
		}
	}
	if _, err := databaseOf("mysql://u@h/db"); err == nil {
		t.Error("databaseOf(mysql) succeeded")
	}
	if _, err := (Config{Engine: "cache", SecretKey: "k"}).settings(); err == nil {
		t.Error("an unknown engine was accepted")
	}
}

// TestStart_ServesTheSeedsViews checks the runner itself: the seed's
// views, the added ones, and the per-request key and clock.
func TestStart_ServesTheSeedsViews(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := Start(t, Config{Engine: "file", SecretKey: "django-insecure-runner", FilePath: dir})
	if !strings.HasPrefix(d.Version(), "3.") && !strings.HasPrefix(d.Version(), "4.") && !strings.HasPrefix(d.Version(), "5.") {
		t.Errorf("Django %s", d.Version())
	}
	set := d.Get(t, "/set/", "")
	if set.Status != 200 || set.Cookie == nil || len(set.Cookie.Value) != 32 || set.Cookie.MaxAge != "1209600" {
		t.Fatalf("/set/ = %+v", set)
	}
	id := set.Cookie.Value
	if m, _ := filepath.Glob(filepath.Join(dir, "sessionid"+id)); len(m) != 1 {
		t.Errorf("no session file for %s", id)
	}
	res := d.Do(t,
		Request{Path: "/get/", Cookie: id},
		Request{Path: "/count/", Cookie: id},
		Request{Path: "/count/", Cookie: id},
		Request{Path: "/count/?read=1", Cookie: id},
		Request{Path: "/del/", Cookie: id},
		Request{Path: "/get/", Cookie: id},
		Request{Path: "/get/", Cookie: id, SecretKey: "another key"},
	)
	if b := res[0].Body; !strings.Contains(b, "Sonam rathore") || !strings.Contains(b, `<p id="age">26</p>`) {
		t.Errorf("/get/:\n%s", b)
	}
	if res[1].Body != "1\n" || res[2].Body != "2\n" || res[3].Body != "2\n" {
		t.Errorf("/count/: %q %q %q", res[1].Body, res[2].Body, res[3].Body)
	}
	if b := res[5].Body; !strings.Contains(b, "Guest Guest") || !strings.Contains(b, "count") {
		t.Errorf("/get/ after /del/:\n%s", b)
	}
	// Signed with another key, the file is no session: a new one starts.
	if b := res[6].Body; !strings.Contains(b, "Guest Guest") || strings.Contains(b, "count") {
		t.Errorf("/get/ with another SECRET_KEY:\n%s", b)
	}

	all := d.Get(t, "/setall/", "")
	var got struct {
		Equal bool
		Items []any
	}
	if err := json.Unmarshal([]byte(d.Get(t, "/getall/", all.Cookie.Value).Body), &got); err != nil || !got.Equal || got.Items[0] != "dict" {
		t.Errorf("/getall/ = %+v, %v", got, err)
	}
}

func TestStart_SignedCookiesAtAnotherTime(t *testing.T) {
	t.Parallel()
	d := Start(t, Config{Engine: "signed_cookies", SecretKey: "django-insecure-runner", CookieAge: time.Hour})
	old := d.Do(t, Request{Path: "/count/", Time: time.Now().Add(-time.Hour - time.Minute)})[0]
	recent := d.Do(t, Request{Path: "/count/", Time: time.Now().Add(-time.Hour + time.Minute)})[0]
	if old.Cookie == nil || recent.Cookie == nil || old.Cookie.MaxAge != "3600" {
		t.Fatalf("/count/ set no cookie: %+v, %+v", old, recent)
	}
	res := d.Do(t, Request{Path: "/count/?read=1", Cookie: old.Cookie.Value}, Request{Path: "/count/?read=1", Cookie: recent.Cookie.Value})
	if res[0].Body != "0\n" || res[1].Body != "1\n" {
		t.Errorf("a cookie signed over SESSION_COOKIE_AGE ago reads %q, a younger one %q", res[0].Body, res[1].Body)
	}
}

// TestProject_EmbedsEveryFile: the go:embed patterns name the project's
// files one directory at a time; a file added elsewhere must be named too.
func TestProject_EmbedsEveryFile(t *testing.T) {
	n := 0
	err := filepath.WalkDir("testdata/django", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == "__pycache__" {
				return fs.SkipDir
			}
			return err
		}
		want, _ := os.ReadFile(path)
		got, err := fs.ReadFile(project, filepath.ToSlash(path))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is not embedded: %v", path, err)
		}
		n++
		return nil
	})
	if err != nil || n < 8 {
		t.Errorf("walked %d files: %v", n, err)
	}
}
