package storeconfig

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/internal/redact"
)

// Engines of Django's own names: SESSION_ENGINE as a Django project's
// settings.py sets it. They keep sessions in Django's layout and format
// (package djangosession), under Django's session keys, so that the demo
// and a Django application with the same settings serve one set of
// sessions. Each needs SECRET_KEY.
const (
	// EngineDjangoDB is Django's table django_session (sqlstore's
	// DjangoStore), in DATABASE_URL's database, by default the SQLite file
	// db.sqlite3 in SESSION_FILE_PATH, as for EngineDB.
	EngineDjangoDB = "django.contrib.sessions.backends.db"
	// EngineDjangoFile is Django's file backend (djangosession's
	// FileStore): one file per session in SESSION_FILE_PATH, by default
	// the private folder of the file engine (not Django's default, the
	// system's temporary directory, which every local user shares).
	EngineDjangoFile = "django.contrib.sessions.backends.file"
	// EngineDjangoSignedCookies is Django's signed_cookies backend
	// (djangosession's CookieStore): the session is the cookie, signed
	// but not encrypted. It has no store URL: there is nothing on the
	// server to open.
	EngineDjangoSignedCookies = "django.contrib.sessions.backends.signed_cookies"
)

// Store URL schemes of the stores in Django's layout, for the tools.
// "django-db:" is followed by an SQL database URL
// ("django-db:sqlite:/var/lib/app/db.sqlite3",
// "django-db:postgres://app@db/app"), whose table defaults to
// django_session; "django-file:" by a directory, as "file:" is
// ("django-file:/var/lib/app/sessions").
const (
	SchemeDjangoDB   = "django-db"
	SchemeDjangoFile = "django-file"
)

// Environment variables of the Django engines, Django's setting names.
const (
	// EnvDjangoSecretKey is SECRET_KEY, which signs the session data;
	// required by the Django engines.
	EnvDjangoSecretKey = "SECRET_KEY"
	// EnvDjangoSecretKeyFallbacks is SECRET_KEY_FALLBACKS: older keys,
	// separated by commas (spaces around them are ignored), that still
	// open sessions signed before a rotation; new sessions are signed
	// with SECRET_KEY.
	EnvDjangoSecretKeyFallbacks = "SECRET_KEY_FALLBACKS"
	// EnvSessionCookieAge is SESSION_COOKIE_AGE: how long a session lives
	// after its last save, in whole seconds (default two weeks). It
	// applies to every engine.
	EnvSessionCookieAge = "SESSION_COOKIE_AGE"
)

// ErrNoSecretKey is returned when a Django engine is opened without
// SECRET_KEY.
var ErrNoSecretKey = errors.New(EnvDjangoSecretKey + " is not set: the Django engines sign sessions with the Django project's SECRET_KEY")

// maxCookieAgeSeconds is the longest SESSION_COOKIE_AGE a time.Duration
// holds.
const maxCookieAgeSeconds = math.MaxInt64 / int64(time.Second)

// CookieAge returns SESSION_COOKIE_AGE, or 0 when it is unset.
func CookieAge() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(EnvSessionCookieAge))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > maxCookieAgeSeconds {
		return 0, fmt.Errorf("%s=%q: want a whole number of seconds, 1 or more", EnvSessionCookieAge, v)
	}
	return time.Duration(n) * time.Second, nil
}

// DjangoSettings returns the Django settings of the environment:
// SECRET_KEY (required: ErrNoSecretKey), SECRET_KEY_FALLBACKS and
// SESSION_COOKIE_AGE. The cookie name is Django's default, sessionid.
func DjangoSettings() (*djangosession.Settings, error) {
	key := os.Getenv(EnvDjangoSecretKey)
	if strings.TrimSpace(key) == "" {
		return nil, ErrNoSecretKey
	}
	st := &djangosession.Settings{SecretKey: key}
	for _, k := range strings.Split(os.Getenv(EnvDjangoSecretKeyFallbacks), ",") {
		if k = strings.TrimSpace(k); k != "" {
			st.SecretKeyFallbacks = append(st.SecretKeyFallbacks, k)
		}
	}
	age, err := CookieAge()
	if err != nil {
		return nil, err
	}
	st.SessionCookieAge = age
	return st, nil
}

// IsDjango reports whether s names a store in Django's layout and format
// (one of the Django engines).
func (s Spec) IsDjango() bool {
	switch s.Engine {
	case EngineDjangoDB, EngineDjangoFile, EngineDjangoSignedCookies:
		return true
	}
	return false
}

// isSQL reports whether s names a table of an SQL database: engine db or
// Django's db.
func (s Spec) isSQL() bool { return s.Engine == EngineDB || s.Engine == EngineDjangoDB }

// parseDjangoDB parses a django-db: URL; rest follows the colon.
func parseDjangoDB(raw, rest string) (Spec, error) {
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return Spec{}, fmt.Errorf("%w %q: %s: needs an SQL database URL, as in %s:sqlite:/var/lib/app/db.sqlite3 or %s:postgres://USER@HOST/DB",
			ErrBadURL, raw, SchemeDjangoDB, SchemeDjangoDB, SchemeDjangoDB)
	}
	inner, err := ParseURL(rest)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", SchemeDjangoDB, err)
	}
	if inner.Engine != EngineDB {
		return Spec{}, fmt.Errorf("%w %q: %s: wants an SQL database URL (sqlite:, postgres://, mysql://) after the colon",
			ErrBadURL, redact.URL(rest), SchemeDjangoDB)
	}
	inner.Engine = EngineDjangoDB
	return inner, nil
}

// openDjangoDB opens Django's table in the database s names, as openDB
// opens the engine's own.
func openDjangoDB(s Spec, o *OpenOptions) (*Opened, error) {
	st, err := DjangoSettings()
	if err != nil {
		return nil, err
	}
	return openSQL(s, o, st)
}

// openDjangoFile opens the directory of Django's file backend: s.Path, by
// default SESSION_FILE_PATH, else the private folder of the file engine.
func openDjangoFile(s Spec, o *OpenOptions) (*Opened, error) {
	st, err := DjangoSettings()
	if err != nil {
		return nil, err
	}
	isDefault := s.Path == "" && os.Getenv(EnvFilePath) == ""
	dir := s.Resolve().Path
	if o.MustExist {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
	} else if isDefault {
		// The default sits in the shared temp dir: make it as the other
		// stores make theirs, refusing one another user made.
		if err := location.Judge(location.MakeDefaultDir(dir), false, o.Logger, "djangosession"); err != nil {
			return nil, err
		}
	}
	fs, err := djangosession.NewFileStore(dir, st, &djangosession.FileStoreOptions{NoSync: o.NoSync, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &Opened{
		Store:  fs,
		Where:  fmt.Sprintf("Django's file backend: one file per session under %s (%s<key>)", fs.Dir(), djangosession.DefaultSessionCookieName),
		Django: st,
	}, nil
}

// openDjangoSignedCookies opens Django's signed_cookies backend.
func openDjangoSignedCookies(Spec, *OpenOptions) (*Opened, error) {
	st, err := DjangoSettings()
	if err != nil {
		return nil, err
	}
	cs, err := djangosession.NewCookieStore(st)
	if err != nil {
		return nil, err
	}
	return &Opened{
		Store:  cs,
		Where:  "in the cookie, signed with SECRET_KEY as Django's signed_cookies backend does (signed, not encrypted: the visitor can read it)",
		Django: st,
	}, nil
}

// checkDir fails with ErrNotExist when dir does not exist, and when it is
// not a directory.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ErrNotExist
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Options sets in opts what an engine needs to serve the store's
// sessions: SESSION_COOKIE_AGE as the cookie age, when it is set, and for
// the Django engines Django's codec, session keys, cookie name and cookie
// age (djangosession's Settings.Options, or Settings.CookieOptions for
// signed_cookies). Call it on DefaultOptions before changing them further.
func (o *Opened) Options(opts *session.Options) {
	if o.cookieAge > 0 {
		opts.CookieAge = o.cookieAge
	}
	switch {
	case o.Django == nil:
	case o.Spec.Engine == EngineDjangoSignedCookies:
		o.Django.CookieOptions(opts)
	default:
		o.Django.Options(opts)
	}
}

// djangoString is String for the Django engines' Specs.
func (s Spec) djangoString() string {
	switch s.Engine {
	case EngineDjangoDB:
		return SchemeDjangoDB + ":" + s.dbString()
	case EngineDjangoFile:
		return SchemeDjangoFile + ":" + s.Resolve().Path
	}
	return s.Engine
}
