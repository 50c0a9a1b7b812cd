package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/storeconfig"
)

var showCommand = &command{
	name:     "show",
	synopsis: "[--store URL] [--codec msgpack|json] (KEY | --cookie ID)",
	summary:  "decode one session and print it as JSON",
	details: `
Prints one live session as JSON: its values, user ID, expiry, encoded
size and expiry settings. KEY is a store key as ls prints it; --cookie
takes the session ID from a browser's cookie instead and derives the store
key from it as the engine does (SHA-256). Values print as JSON does:
[]byte as base64, times in RFC 3339. --codec names the codec the server
uses (Options.Codec).

Django's stores (django-db:, django-file:, SESSION_ENGINE=django.contrib.
sessions.backends.*) decode with Django's format and SECRET_KEY (and
SECRET_KEY_FALLBACKS), not --codec; their store key is the session key,
the cookie itself, so KEY and --cookie are the same. For signed_cookies,
which keeps the session in the cookie, --cookie takes the cookie's value
and show opens it as Django would; the user ID is django.contrib.auth's.`,
	example: `
sessionctl show --store bolt:/var/lib/app/sessions.db 3fa2c9...e1
sessionctl show --cookie "$SESSIONID" | jq .values
SECRET_KEY=... sessionctl show --store django-db:sqlite:/srv/app/db.sqlite3 --cookie "$SESSIONID"`,
	run: runShow,
}

// showResult is the output of show.
type showResult struct {
	Key                  string         `json:"key"`
	UserID               string         `json:"user_id"`
	Expires              time.Time      `json:"expires"`
	ExpiresInSeconds     int64          `json:"expires_in_seconds"`
	Size                 int            `json:"size"`
	ExpireAtBrowserClose bool           `json:"expire_at_browser_close"`
	MaxAgeSeconds        int64          `json:"max_age_seconds,omitempty"`
	ExpiresAt            *time.Time     `json:"expires_at,omitempty"`
	Values               map[string]any `json:"values"`
	DecodeError          string         `json:"decode_error,omitempty"`
}

func runShow(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	storeURL := storeFlag(fs)
	cookie := fs.String("cookie", "", "the session `ID` from the session cookie, instead of KEY")
	codecName := fs.String("codec", "msgpack", "the `NAME` of the codec sessions are encoded with: msgpack or json")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	spec, err := specOf(*storeURL)
	if err != nil {
		return err
	}
	var key string
	var codec session.Codec
	if spec.IsDjango() {
		if flagSet(fs, "codec") {
			return usageErrorf("--codec does not apply to Django's stores: their sessions decode with Django's format and SECRET_KEY")
		}
		key, err = djangoShowKey(spec, pos, *cookie)
	} else {
		key, err = showKey(pos, *cookie)
		if err == nil {
			codec, err = codecOf(*codecName)
		}
	}
	if err != nil {
		return err
	}
	o, err := a.openSpec(spec, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	if c := storeCodec(o); c != nil {
		codec = c
	}
	rec, err := o.Store.Load(ctx, key)
	if errors.Is(err, session.ErrNotFound) && spec.Engine == storeconfig.EngineDjangoSignedCookies {
		return &statusError{exitNotFound, fmt.Errorf("the cookie holds no live session: %w", err)}
	}
	if errors.Is(err, session.ErrNotFound) {
		return &statusError{exitNotFound, fmt.Errorf("no live session under key %s in %s", printable(key), o.Spec)}
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", key, err)
	}
	res, decodeErr := describe(codec, key, rec, time.Now())
	if err := a.printJSON(res); err != nil {
		return err
	}
	return decodeErr
}

// showKey returns the store key that the arguments name.
func showKey(pos []string, cookie string) (string, error) {
	switch {
	case len(pos) > 1:
		return "", usageErrorf("unexpected argument %q", pos[1])
	case len(pos) == 1 && cookie != "":
		return "", usageErrorf("give a KEY or --cookie, not both")
	case len(pos) == 1 && session.ValidID(pos[0]):
		return "", usageErrorf("%q is a session ID, not a store key: use --cookie %s", pos[0], pos[0])
	case len(pos) == 1 && !session.ValidStoreKey(pos[0]):
		return "", usageErrorf("%s is not a store key (64 lowercase hexadecimal digits, as ls prints them)", printable(pos[0]))
	case len(pos) == 1:
		return pos[0], nil
	case cookie == "":
		return "", usageErrorf("missing KEY or --cookie ID")
	case !session.ValidID(cookie):
		return "", usageErrorf("--cookie %q is not a session ID (43 characters of base64url)", cookie)
	}
	return session.StoreKey(cookie), nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func codecOf(name string) (session.Codec, error) {
	switch strings.ToLower(name) {
	case "msgpack":
		return session.MsgpackCodec{}, nil
	case "json":
		return session.JSONCodec{}, nil
	}
	return nil, usageErrorf("--codec %q: want msgpack or json", name)
}

// describe decodes rec. A record that cannot be decoded is described
// without its values, and the decoding error returned.
func describe(codec session.Codec, key string, rec session.Record, now time.Time) (showResult, error) {
	res := showResult{
		Key:              key,
		UserID:           rec.UserID,
		Expires:          rec.Expires,
		ExpiresInSeconds: int64(rec.Expires.Sub(now) / time.Second),
		Size:             len(rec.Data),
	}
	d, err := session.DecodeRecord(rec, codec)
	if err != nil {
		res.DecodeError = err.Error()
		return res, fmt.Errorf("decode %s: %w", key, err)
	}
	res.Values = jsonSafe(d.Values).(map[string]any)
	res.ExpireAtBrowserClose = d.BrowserClose
	res.MaxAgeSeconds = int64(d.MaxAge / time.Second)
	if !d.ExpiresAt.IsZero() {
		res.ExpiresAt = &d.ExpiresAt
	}
	return res, nil
}

// jsonSafe returns v with the floats JSON cannot represent (NaN, ±Inf)
// replaced by their names, so that any session can be printed.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	}
	return v
}
