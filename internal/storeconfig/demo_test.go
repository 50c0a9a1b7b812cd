package storeconfig

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sessionkv/session/cookiestore"
	"github.com/sessionkv/session/redisstore"
	"github.com/sessionkv/session/redisstore/redistest"
)

func TestOpen_CookieEngine(t *testing.T) {
	t.Setenv(EnvSecretKey, "")
	o, err := Open("cookie", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Store.(*cookiestore.Store); !ok || !strings.Contains(o.Where, "random key") {
		t.Errorf("cookie without a secret: %T, %q", o.Store, o.Where)
	}
	k1 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	k2 := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("b", 40)))
	t.Setenv(EnvSecretKey, k1+", "+k2)
	if o, err := Open("cookie", ""); err != nil || strings.Contains(o.Where, "random") {
		t.Errorf("cookie with two secrets: %v, %q", err, o.Where)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		t.Setenv(EnvSecretKey, bad)
		if _, err := Open("cookie", ""); err == nil || !strings.Contains(err.Error(), EnvSecretKey) {
			t.Errorf("SESSION_SECRET_KEY=%q: %v, want an error naming it", bad, err)
		}
	}
}

func TestOpen_RedisEngineUsesRedisURL(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv(EnvRedisURL, "redis://"+srv.Addr()+"/0")
	o, err := Open("redis", "")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, ok := o.Store.(*redisstore.Store); !ok || !strings.Contains(o.Spec.String(), srv.Addr()) {
		t.Errorf("redis engine: %T at %s", o.Store, o.Spec)
	}
}
