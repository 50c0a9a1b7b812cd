package storeconfig

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/cookiestore"
)

// Environment variables of the engines that need more than a path.
const (
	// EnvRedisURL is the Redis server of SESSION_ENGINE=redis.
	EnvRedisURL = "REDIS_URL"
	// EnvSecretKey holds the secrets of SESSION_ENGINE=cookie: one or more
	// base64 (standard or URL alphabet) values of at least 32 bytes,
	// separated by commas; the first seals, all open (rotation).
	EnvSecretKey = "SESSION_SECRET_KEY"
)

// DefaultRedisURL is used when REDIS_URL is unset.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Engines that only SESSION_ENGINE names (they have no store URL).
const (
	// EngineCookie keeps sessions in the cookie (cookiestore).
	EngineCookie = "cookie"
	// EngineCached is a cachestore in front of the bolt database.
	EngineCached = "cached"
)

// redisSpec is the Spec of SESSION_ENGINE=redis.
func redisSpec() Spec {
	u := os.Getenv(EnvRedisURL)
	if u == "" {
		u = DefaultRedisURL
	}
	return Spec{Engine: SchemeRedis, URL: u}
}

// openCached opens the bolt database of s (as SESSION_ENGINE=bolt would)
// behind a cache. The bolt file belongs to this process alone, so the cache
// needs no staleness bound.
func openCached(s Spec, o *OpenOptions) (*Opened, error) {
	bolt, err := openBolt(s, o)
	if err != nil {
		return nil, err
	}
	st, err := cachestore.New(bolt.Store, &cachestore.Options{TTL: -1, Logger: o.Logger})
	if err != nil {
		bolt.Close()
		return nil, err
	}
	return &Opened{
		Store: st,
		Where: "a cache in front of the " + bolt.Where,
		close: func() error { return errors.Join(st.Close(), bolt.Close()) },
	}, nil
}

// openCookie opens a cookie store with the secrets of SESSION_SECRET_KEY,
// or with a random secret (sessions then end when the process does).
func openCookie(Spec, *OpenOptions) (*Opened, error) {
	secrets, err := cookieSecrets(os.Getenv(EnvSecretKey))
	if err != nil {
		return nil, err
	}
	where := "in the cookie, encrypted"
	if secrets == nil {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		secrets = [][]byte{secret}
		where += " with a random key (set " + EnvSecretKey + " to keep sessions across restarts)"
	}
	st, err := cookiestore.New(secrets...)
	if err != nil {
		return nil, err
	}
	return &Opened{Store: st, Where: where}, nil
}

// cookieSecrets decodes SESSION_SECRET_KEY; nil when it is empty.
func cookieSecrets(env string) ([][]byte, error) {
	if strings.TrimSpace(env) == "" {
		return nil, nil
	}
	var out [][]byte
	for i, part := range strings.Split(env, ",") {
		part = strings.TrimSpace(part)
		var b []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(part); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: secret %d is not base64", EnvSecretKey, i+1)
		}
		if len(b) < cookiestore.MinKeyLen {
			return nil, fmt.Errorf("%s: secret %d has %d bytes, want at least %d", EnvSecretKey, i+1, len(b), cookiestore.MinKeyLen)
		}
		out = append(out, b)
	}
	return out, nil
}
