// Command sessionctl is the operator's tool for sessionkv session stores:
// Django's "manage.py clearsessions" and what else a session store needs
// from a shell.
//
// Usage:
//
//	sessionctl COMMAND [flags]
//
// The commands are:
//
//	clearsessions  delete expired sessions now
//	ls             list sessions: store key, user, size, expiry
//	show           decode one session and print it as JSON
//	stats          counts, sizes and an expiry histogram
//	revoke         delete every session of a user (log out everywhere)
//	migrate        copy every live session from one store to another
//	schema         print the SQL that creates an SQL store's table
//	compact        rewrite a bbolt file to give freed space back
//	check          verify a bbolt file's structure
//	salvage        copy every readable session out of a damaged bbolt file
//
// Run "sessionctl COMMAND --help" for a command's flags and an example.
//
// # Stores
//
// Every command takes --store URL (migrate takes --from and --to):
//
//	bolt:/var/lib/app/sessions.db   a bbolt database file
//	file:/var/lib/app/sessions      a directory of one file per session
//	redis://127.0.0.1:6379/0        Redis; ?prefix=P for a custom key prefix
//	sqlite:/var/lib/app/db.sqlite3  an SQLite database file
//	postgres://USER:PASS@HOST/DB    PostgreSQL (also postgresql://)
//	mysql://USER:PASS@HOST/DB       MySQL or MariaDB
//	memory:                         an empty in-process store (for trials)
//	django-db:SQL-URL               Django's table django_session in the database
//	                                of SQL-URL (django-db:sqlite:/srv/app/db.sqlite3)
//	django-file:/srv/app/sessions   Django's file backend's SESSION_FILE_PATH
//
// An SQL URL may name the table with ?table=NAME (default sessions, and
// django_session for django-db:); its other parameters go to the database
// driver. Passwords are never printed.
//
// The django- stores are Django's own (SESSION_ENGINE
// "django.contrib.sessions.backends.db" and ".file"), shared with a Django
// application: their sessions are Django's signed JSON under Django's
// session keys, which are the cookies themselves. They need SECRET_KEY,
// the Django project's (with SECRET_KEY_FALLBACKS, comma-separated, after
// a rotation), and honour SESSION_COOKIE_AGE: show decodes with them,
// and ls, stats and revoke --user read each session's owner
// (django.contrib.auth's user ID) from its data, since Django keeps no
// index of owners. Migrate copies between two Django stores, never
// between a Django store and a sessionkv one, whose formats differ.
// Django's signed_cookies keeps sessions in the cookies: show --cookie
// opens one, and there is nothing else to work on.
//
// Without the flag, SESSION_ENGINE (default bolt) and SESSION_FILE_PATH
// name the store exactly as they do for the demo server, so
// "SESSION_FILE_PATH=dir sessionctl stats" sees what the server keeps in
// dir; for SESSION_ENGINE=cached the commands work on the bolt file behind
// the cache, and SESSION_ENGINE=db takes DATABASE_URL (default: the SQLite
// file db.sqlite3 in SESSION_FILE_PATH), as do Django's names for its db,
// file and signed_cookies engines. No command but migrate's
// destination creates a store that does not exist, nor an SQL store's
// table. A bbolt file belongs to one process at a time: while a server has
// it open, commands on it fail at once with a "locked by another process"
// error (after --lock-wait, one second by default). An SQLite file, a file
// store, Redis and the database servers can be worked on while servers
// run.
//
// # Output
//
// Results go to standard output as a human-readable table, or with --json
// as one JSON document. Errors go to standard error on one line. A progress
// bar with rate and ETA is drawn on standard error for long operations when
// standard output and standard error are terminals, never otherwise.
//
// # Exit status
//
//	0  success
//	1  operational error: the store is missing, unreadable or failed
//	2  usage error: unknown command or flag, bad store URL, wrong store kind
//	3  check failed: migrate found copied sessions missing from the target
//	4  not found: show found no live session under the key or cookie
//	5  locked: a bbolt file is held by another process (a running server)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/sessionkv/session/internal/storeconfig"
)

func main() {
	storeconfig.QuietRedis()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	tty := term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, tty)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status. progress
// enables progress bars on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, progress bool) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "sessionctl: unknown command %q (run 'sessionctl help')\n", name)
		return exitUsage
	}
	a := newApp(cmd, stdout, stderr, progress)
	return a.exit(cmd.run(ctx, a, rest))
}

// runHelp prints the overview, or one command's help.
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "sessionctl: unknown command %q (run 'sessionctl help')\n", args[0])
		return exitUsage
	}
	a := newApp(cmd, stdout, stderr, false)
	return a.exit(cmd.run(context.Background(), a, []string{"--help"}))
}

// printUsage prints the list of commands.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "sessionctl inspects and maintains sessionkv session stores.\n\n"+
		"Usage: sessionctl COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\n"+storesHelp+"\n"+exitHelp+
		"\nRun 'sessionctl COMMAND --help' for a command's flags and an example.\n")
}

const storesHelp = `Stores (--store URL; migrate: --from, --to):
  bolt:/var/lib/app/sessions.db   a bbolt database file
  file:/var/lib/app/sessions      a directory of one file per session
  redis://127.0.0.1:6379/0        Redis; ?prefix=P for a custom key prefix
  sqlite:/var/lib/app/db.sqlite3  an SQLite database file
  postgres://USER:PASS@HOST/DB    PostgreSQL (also postgresql://)
  mysql://USER:PASS@HOST/DB       MySQL or MariaDB
  memory:                         an empty in-process store
  django-db:SQL-URL               Django's table django_session in SQL-URL's
                                  database (django-db:sqlite:/srv/app/db.sqlite3)
  django-file:/srv/app/sessions   Django's file backend's SESSION_FILE_PATH
SQL URLs take ?table=NAME (default sessions; django_session for
django-db:). Without the flag, SESSION_ENGINE (default bolt) and
SESSION_FILE_PATH name the store as they do for the demo server (for
cached: the bolt file behind the cache; for db: DATABASE_URL, default
sqlite: and db.sqlite3 in SESSION_FILE_PATH), Django's engine names
(django.contrib.sessions.backends.db, .file, .signed_cookies) included.
Django's stores need SECRET_KEY (and SECRET_KEY_FALLBACKS, comma-separated,
after a rotation) to decode sessions and read their owners.
`

const exitHelp = `Exit status: 0 ok, 1 error, 2 usage error, 3 check failed,
4 session not found, 5 bolt file locked by another process.
`
