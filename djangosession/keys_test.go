package djangosession_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

func TestNewSessionKey(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		k := djangosession.NewSessionKey()
		if !djangosession.ValidSessionKey(k) {
			t.Fatalf("NewSessionKey() = %q, not a valid key", k)
		}
		if seen[k] {
			t.Fatalf("NewSessionKey() repeated %q", k)
		}
		seen[k] = true
		for _, c := range k {
			counts[c]++
		}
	}
	// 64000 characters over 36: each about 1778 times; a bias in the
	// sampling would show far beyond this slack.
	if len(counts) != 36 {
		t.Errorf("%d distinct characters, want 36", len(counts))
	}
	for c, n := range counts {
		if n < 1500 || n > 2060 {
			t.Errorf("character %q drawn %d times of 64000", c, n)
		}
	}
}

func TestValidSessionKey(t *testing.T) {
	for key, want := range map[string]bool{
		"abcdefghijklmnopqrstuvwxyz012345":    true,
		strings.Repeat("0", 32):               true,
		"abcdefghijklmnopqrstuvwxyz01234":     false, // 31
		"abcdefghijklmnopqrstuvwxyz0123456":   false, // 33
		"Abcdefghijklmnopqrstuvwxyz012345":    false, // uppercase
		"abcdefghijklmnopqrstuvwxyz01234-":    false,
		"abcdefghijklmnopqrstuvwxyz01234\xff": false,
		"":                                    false,
	} {
		if got := djangosession.ValidSessionKey(key); got != want {
			t.Errorf("ValidSessionKey(%q) = %v", key, got)
		}
	}
}

func TestUserID(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
		ok   bool
	}{
		{"42", "42", true},
		{"550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000", true},
		{int64(7), "7", true}, // older Django releases
		{uint64(math.MaxUint64), "18446744073709551615", true},
		{1.5, "", false},
		{nil, "", false},
	} {
		id, ok := djangosession.UserID(map[string]any{djangosession.UserIDKey: c.v})
		if id != c.want || ok != c.ok {
			t.Errorf("UserID(%v) = %q, %v", c.v, id, ok)
		}
	}
	if _, ok := djangosession.UserID(map[string]any{}); ok {
		t.Error("UserID of an anonymous session")
	}
}

func TestReadExpiry(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	cases := []struct {
		v    any
		want djangosession.Expiry
	}{
		{nil, djangosession.Expiry{}},
		{int64(0), djangosession.Expiry{Kind: djangosession.ExpiryBrowserClose}},
		{0.0, djangosession.Expiry{Kind: djangosession.ExpiryBrowserClose}},
		{int64(300), djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: 300 * time.Second}},
		{int64(-5), djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: -5 * time.Second}},
		{uint64(math.MaxUint64), djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: time.Duration(math.MaxInt64)}},
		{1.5, djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: 1500 * time.Millisecond}},
		{math.Inf(-1), djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: time.Duration(math.MinInt64)}},
		{"2026-05-01T12:00:00+00:00", djangosession.Expiry{Kind: djangosession.ExpiryAt, At: utc("2026-05-01T12:00:00Z")}},
		{"2026-05-01T12:00:00.123456+00:00", djangosession.Expiry{Kind: djangosession.ExpiryAt, At: utc("2026-05-01T12:00:00.123456Z")}},
		{"2026-05-01T17:30:00.000005+05:30", djangosession.Expiry{Kind: djangosession.ExpiryAt, At: utc("2026-05-01T12:00:00.000005Z")}},
		{"2026-05-01 12:00:00", djangosession.Expiry{Kind: djangosession.ExpiryAt, At: utc("2026-05-01T12:00:00Z")}},
		{"2026-05-01T12:00:00", djangosession.Expiry{Kind: djangosession.ExpiryAt, At: utc("2026-05-01T12:00:00Z")}},
	}
	for _, c := range cases {
		values := map[string]any{"other": "x"}
		if c.v != nil {
			values[djangosession.ExpiryKey] = c.v
		}
		got, err := djangosession.ReadExpiry(values)
		if err != nil {
			t.Errorf("ReadExpiry(%v): %v", c.v, err)
			continue
		}
		if got.Kind != c.want.Kind || got.Age != c.want.Age || !got.At.Equal(c.want.At) || got.At.Location() != c.want.At.Location() {
			t.Errorf("ReadExpiry(%v) = %+v, want %+v", c.v, got, c.want)
		}
	}
	for _, v := range []any{true, "tomorrow", "2026-05-01", []any{}, math.NaN()} {
		_, err := djangosession.ReadExpiry(map[string]any{djangosession.ExpiryKey: v})
		if !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("ReadExpiry(%v): err = %v, want ErrCorrupt", v, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	mod := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cookieAge := 14 * 24 * time.Hour
	at := time.Date(2026, 5, 1, 13, 0, 0, 500_000_000, time.UTC)
	cases := []struct {
		e     djangosession.Expiry
		value any
		age   time.Duration
		date  time.Time
	}{
		{djangosession.Expiry{}, nil, cookieAge, mod.Add(cookieAge)},
		{djangosession.Expiry{Kind: djangosession.ExpiryBrowserClose}, int64(0), cookieAge, mod.Add(cookieAge)},
		{djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: 90 * time.Second}, int64(90), 90 * time.Second, mod.Add(90 * time.Second)},
		{djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: 500 * time.Millisecond}, 0.5, 500 * time.Millisecond, mod.Add(500 * time.Millisecond)},
		{djangosession.Expiry{Kind: djangosession.ExpiryAge, Age: -time.Second}, int64(-1), -time.Second, mod.Add(-time.Second)},
		{djangosession.Expiry{Kind: djangosession.ExpiryAt, At: at}, "2026-05-01T13:00:00.500000+00:00", 3600 * time.Second, at},
		// Passed: whole seconds rounded down, as timedelta's days and seconds.
		{djangosession.Expiry{Kind: djangosession.ExpiryAt, At: mod.Add(-1500 * time.Millisecond)}, "2026-05-01T11:59:58.500000+00:00", -2 * time.Second, mod.Add(-1500 * time.Millisecond)},
		{djangosession.Expiry{Kind: djangosession.ExpiryAt, At: time.Date(2026, 5, 1, 17, 30, 0, 0, time.FixedZone("IST", 19800))}, "2026-05-01T12:00:00+00:00", 0, mod},
	}
	for _, c := range cases {
		if v := c.e.Value(); v != c.value {
			t.Errorf("%+v: Value() = %#v, want %#v", c.e, v, c.value)
		}
		if a := c.e.AgeAt(mod, cookieAge); a != c.age {
			t.Errorf("%+v: AgeAt = %v, want %v", c.e, a, c.age)
		}
		if d := c.e.DateAt(mod, cookieAge); !d.Equal(c.date) {
			t.Errorf("%+v: DateAt = %v, want %v", c.e, d, c.date)
		}
		// Value reads back.
		if c.value != nil {
			back, err := djangosession.ReadExpiry(map[string]any{djangosession.ExpiryKey: c.value})
			if err != nil || back.Kind != c.e.Kind || back.Age != c.e.Age || !back.At.Equal(c.e.At) {
				t.Errorf("%+v: read back %+v, %v", c.e, back, err)
			}
		}
	}
}
