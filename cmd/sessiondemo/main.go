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
// (default sessions); the table is created if it is missing. The server
// logs where sessions are kept (passwords hidden), and stops cleanly on
// SIGINT or SIGTERM.
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
			{storeconfig.EnvEngine, fmt.Sprintf("the store: one of %s (default %s)",
				strings.Join(storeconfig.Engines(), ", "), storeconfig.DefaultEngine)},
			{storeconfig.EnvFilePath, "the directory of the file-backed stores"},
			{storeconfig.EnvDatabaseURL, "for db: sqlite:PATH, postgres://USER:PASSWORD@HOST/DB or\n" +
				"mysql://USER:PASSWORD@HOST/DB (default sqlite: and " + storeconfig.DefaultDBFileName +
				" in " + storeconfig.EnvFilePath + ")"},
			{storeconfig.EnvRedisURL, "for redis (default " + storeconfig.DefaultRedisURL + ")"},
			{storeconfig.EnvSecretKey, "for cookie: base64 keys of 32 bytes or more, comma-separated"},
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
	logger.Info("sessiondemo listening", "url", "http://"+ln.Addr().String()+"/",
		"engine", opened.Spec.Engine, "sessions", opened.Where)
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
