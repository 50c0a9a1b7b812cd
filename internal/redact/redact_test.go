package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestURL_HidesEveryPassword(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                            "redis://127.0.0.1:6379/0",
		"rediss://u:secret@cache:6380/2?prefix=app:":          "rediss://u:xxxxx@cache:6380/2?prefix=app:",
		"postgres://app@db/app":                               "postgres://app@db/app",
		"postgres://app:s%40cret@db/app?sslmode=disable":      "postgres://app:xxxxx@db/app?sslmode=disable",
		"postgres://db/app?password=secret&sslmode=require":   "postgres://db/app?password=xxxxx&sslmode=require",
		"postgres://db/app?sslpassword=secret&PASSWORD=other": "postgres://db/app?sslpassword=xxxxx&PASSWORD=xxxxx",
		"postgres://db/app?pass%77ord=secret":                 "postgres://db/app?pass%77ord=xxxxx",
		"mysql://app:secret@db:3306/app?tls=true":             "mysql://app:xxxxx@db:3306/app?tls=true",
		"postgres://app:secret@db:port/app":                   "postgres://xxxxx@db:port/app", // unparsable
		"app:secret@tcp(db:3306)/app":                         "app:xxxxx@tcp(db:3306)/app",   // a DSN, not a URL
		"sqlite:/var/lib/app@host/db.sqlite3":                 "sqlite:/var/lib/app@host/db.sqlite3",
		"sqlite:db.sqlite3?_pragma=busy_timeout(100)":         "sqlite:db.sqlite3?_pragma=busy_timeout(100)",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestError_HidesPasswordsAndFoldsLines(t *testing.T) {
	raw := "postgres://app:s%40cret@db/app?password=hunter%232"
	base := errors.New("open postgres://app:s%40cret@db/app (user app:s@cret@db):\n\tdial: password=hunter#2 password=hunter%232\n\tagain")
	err := Error(fmt.Errorf("wrapped: %w", base), raw)
	msg := err.Error()
	for _, secret := range []string{"s%40cret", "s@cret", "hunter"} {
		if strings.Contains(msg, secret) {
			t.Errorf("scrub left %q in %q", secret, msg)
		}
	}
	if strings.ContainsAny(msg, "\n\t") || !strings.Contains(msg, "app:xxxxx@db") || !strings.Contains(msg, "password=xxxxx") {
		t.Errorf("scrub = %q", msg)
	}
	if !errors.Is(err, base) {
		t.Error("scrub hides the error it wraps from errors.Is")
	}
	plain := errors.New("connection refused")
	if Error(plain, raw) != plain || Error(nil, raw) != nil {
		t.Error("scrub changed an error that holds no secret")
	}
	// A user named like the password stays readable.
	if got := Error(errors.New(`user "postgres" at postgres://postgres:postgres@db/postgres`), "postgres://postgres:postgres@db/postgres").Error(); got != `user "postgres" at postgres://postgres:xxxxx@db/postgres` {
		t.Errorf("scrub = %q", got)
	}
}
