// Command sessiondemo is Django's session example (the set/get/del views)
// as a Go web app on sessionkv.
//
// Usage:
//
//	sessiondemo [-addr 127.0.0.1:8000]
//
// SESSION_ENGINE picks the store: bolt (the default), file, db (an SQL
// table: DATABASE_URL, by default the SQLite file db.sqlite3 in
// SESSION_FILE_PATH, as Django's settings.py has it), redis (with
// REDIS_URL), cached (a cache in front of bolt), cookie (with
// SESSION_SECRET_KEY) or memory. SESSION_FILE_PATH is where bolt, file and
// db's default SQLite file keep their data. DATABASE_URL is a store URL:
// "sqlite:/var/lib/app/db.sqlite3", "postgres://USER:PASSWORD@HOST/DB" or
// "mysql://USER:PASSWORD@HOST/DB", with an optional "table" parameter
// (default sessions); the table is created if it is missing.
// SESSION_COOKIE_AGE, in seconds, sets how long a session lives after its
// last save (default two weeks).
//
// SESSION_ENGINE also takes Django's own engine names, with Django's
// settings, so that the demo and a Django application configured alike
// serve one set of sessions (cookie sessionid, Django's session keys and
// signed JSON format):
//
//	django.contrib.sessions.backends.db              Django's table django_session in
//	                                                 DATABASE_URL's database (default: the
//	                                                 SQLite file db.sqlite3 in SESSION_FILE_PATH)
//	django.contrib.sessions.backends.file            one file per session in SESSION_FILE_PATH
//	django.contrib.sessions.backends.signed_cookies  the session in the cookie, signed
//
// They need SECRET_KEY, the Django project's, and take SECRET_KEY_FALLBACKS
// (older keys, comma-separated, that still open sessions signed before a
// rotation). Without SESSION_FILE_PATH the file backend uses the same
// private folder in the temp dir as the file engine, not Django's default
// (the temp dir itself, shared with every local user): set it to the
// Django project's SESSION_FILE_PATH to share its sessions.
//
// The server logs the engine and where sessions are kept (passwords
// hidden), and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/storeconfig"
)

func main() {
	storeconfig.QuietRedis()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return // -h printed the usage: not a failure
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessiondemo:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done. ready, if not nil, is called with the
// listening address once the server accepts connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("sessiondemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sessiondemo [-addr host:port]\n\nEnvironment:\n")
		for _, v := range [][2]string{
			{storeconfig.EnvEngine, engineHelp()},
			{storeconfig.EnvFilePath, "the directory of the file-backed stores, Django's file backend\n" +
				"included (default: a private folder in the temp dir)"},
			{storeconfig.EnvDatabaseURL, "for db and Django's db: sqlite:PATH, postgres://USER:PASSWORD@HOST/DB or\n" +
				"mysql://USER:PASSWORD@HOST/DB (default sqlite: and " + storeconfig.DefaultDBFileName +
				" in " + storeconfig.EnvFilePath + ")"},
			{storeconfig.EnvRedisURL, "for redis (default " + storeconfig.DefaultRedisURL + ")"},
			{storeconfig.EnvSecretKey, "for cookie: base64 keys of 32 bytes or more, comma-separated"},
			{storeconfig.EnvDjangoSecretKey, "for Django's engines (django.contrib.sessions.backends.*):\n" +
				"the Django project's SECRET_KEY (required)"},
			{storeconfig.EnvDjangoSecretKeyFallbacks, "for Django's engines: older keys, comma-separated, that still\n" +
				"open sessions signed before a key rotation"},
			{storeconfig.EnvSessionCookieAge, "how long a session lives after its last save, in seconds\n" +
				"(default 1209600, two weeks)"},
		} {
			fmt.Fprintf(stderr, "  %s\n    \t%s\n", v[0], strings.ReplaceAll(v[1], "\n", "\n    \t"))
		}
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	opened, err := storeconfig.FromEnv()
	if err != nil {
		return err
	}
	defer opened.Close()
	opts := session.DefaultOptions()
	opened.Options(opts) // SESSION_COOKIE_AGE; Django's codec, keys and cookie
	opts.Logger = logger
	engine, err := session.New(opened.Store, opts)
	if err != nil {
		return err
	}
	defer engine.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           engine.Middleware(newHandler(opened.Where, logger)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	banner := []any{"url", "http://" + ln.Addr().String() + "/", "engine", opened.Spec.Engine}
	if store := opened.Spec.String(); opened.Spec.Engine != storeconfig.SchemeMemory {
		if _, err := storeconfig.ParseURL(store); err == nil {
			banner = append(banner, "store", store) // as sessionctl's --store takes it
		}
	}
	logger.Info("sessiondemo listening", append(banner, "sessions", opened.Where)...)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("sessiondemo shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// engineHelp describes SESSION_ENGINE's values for -h.
func engineHelp() string {
	var own, django []string
	for _, e := range storeconfig.Engines() {
		if rest, ok := strings.CutPrefix(e, djangoBackends); ok {
			django = append(django, rest)
		} else {
			own = append(own, e)
		}
	}
	return fmt.Sprintf("the store: one of %s (default %s),\nor Django's %s{%s}",
		strings.Join(own, ", "), storeconfig.DefaultEngine, djangoBackends, strings.Join(django, ","))
}

// djangoBackends prefixes Django's engine names.
const djangoBackends = "django.contrib.sessions.backends."
