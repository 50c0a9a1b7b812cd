package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/sqlstore"
)

// Exit statuses; the package documentation lists them for scripts.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitCheck    = 3
	exitNotFound = 4
	exitLocked   = 5
)

// command is one subcommand.
type command struct {
	name     string
	synopsis string // the arguments after the command name
	summary  string // one line for the overview
	details  string // what it does, for --help
	example  string // one or more example command lines
	run      func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order the overview shows them.
var commands = []*command{
	clearCommand, lsCommand, showCommand, statsCommand,
	revokeCommand, migrateCommand, schemaCommand, compactCommand, checkCommand, salvageCommand,
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// app is the state of one command invocation.
type app struct {
	cmd      *command
	stdout   io.Writer
	stderr   io.Writer
	progress bool // draw progress bars on stderr
	log      *slog.Logger

	// Flags every command has.
	json     bool
	lockWait time.Duration
}

func newApp(cmd *command, stdout, stderr io.Writer, progress bool) *app {
	return &app{
		cmd:      cmd,
		stdout:   stdout,
		stderr:   stderr,
		progress: progress,
		log:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// statusError carries an exit status other than exitError.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// usageErrorf reports a command line that cannot be run as written.
func usageErrorf(format string, args ...any) error {
	return &statusError{exitUsage, fmt.Errorf(format, args...)}
}

// errHelp reports that --help was given and the help printed.
var errHelp = errors.New("help requested")

// exitCode maps an error to the exit status scripts see.
func exitCode(err error) int {
	var ee *statusError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, boltstore.ErrLocked):
		return exitLocked
	case errors.Is(err, storeconfig.ErrBadURL), errors.Is(err, storeconfig.ErrUnknownScheme),
		errors.Is(err, storeconfig.ErrNoSecretKey):
		return exitUsage
	}
	return exitError
}

// exit prints err on one line, if it is worth printing, and returns the
// exit status.
func (a *app) exit(err error) int {
	code := exitCode(err)
	if err == nil || errors.Is(err, errHelp) {
		return code
	}
	msg := printable(strings.Join(strings.Fields(err.Error()), " "))
	if code == exitUsage {
		msg += fmt.Sprintf(" (see 'sessionctl %s --help')", a.cmd.name)
	}
	fmt.Fprintf(a.stderr, "sessionctl %s: %s\n", a.cmd.name, msg)
	return code
}

// flags returns the command's flag set with the flags every command has.
func (a *app) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(a.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported by a.exit
	fs.BoolVar(&a.json, "json", false, "print one JSON document instead of a table")
	fs.DurationVar(&a.lockWait, "lock-wait", time.Second,
		"how long to wait for a bolt file held by another process")
	return fs
}

// storeFlag adds the --store flag to fs.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "the store `URL` (default: from SESSION_ENGINE and SESSION_FILE_PATH)")
}

// parse parses args, letting flags follow positional arguments, and
// returns the positional ones. --help prints the command's help to stdout
// and returns errHelp.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			a.printHelp(fs)
			return nil, errHelp
		}
		if err != nil {
			return nil, &statusError{exitUsage, err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// parseNoArgs is parse for a command that takes no positional arguments.
func (a *app) parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("unexpected argument %q", pos[0])
	}
	return nil
}

// printHelp writes the command's help, flags and example to stdout.
func (a *app) printHelp(fs *flag.FlagSet) {
	c := a.cmd
	w := a.stdout
	fmt.Fprintf(w, "Usage: sessionctl %s %s\n\n%s\n\nFlags:\n", c.name, c.synopsis, strings.TrimSpace(c.details))
	printFlags(w, fs)
	fmt.Fprintf(w, "\nExample:\n%s\n", indent(strings.TrimSpace(c.example)))
}

// printFlags lists fs's flags with the double dash the examples use.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, usage)
	})
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// open opens the store named by url, or by the environment when url is
// empty. mustExist refuses to create a store that is not there.
func (a *app) open(url string, mustExist bool) (*storeconfig.Opened, error) {
	spec, err := specOf(url)
	if err != nil {
		return nil, err
	}
	return a.openSpec(spec, mustExist)
}

// openSpec opens the store s names. A cache in front of a store
// (SESSION_ENGINE=cached) is looked through: the commands read and change
// the store behind it, the authority, with all of its capabilities, and a
// cache that lives only as long as the command would serve nothing.
func (a *app) openSpec(s storeconfig.Spec, mustExist bool) (*storeconfig.Opened, error) {
	o, err := storeconfig.OpenSpec(s, a.openOptions(mustExist))
	if err != nil {
		return nil, err
	}
	for {
		w, ok := o.Store.(session.Wrapper)
		if !ok {
			break
		}
		o.Store = w.Unwrap()
	}
	if d, ok := o.Store.(*sqlstore.DjangoStore); ok {
		o.Store = djangoOwners{d, storeCodec(o)}
	}
	return o, nil
}

func (a *app) openOptions(mustExist bool) *storeconfig.OpenOptions {
	return &storeconfig.OpenOptions{MustExist: mustExist, LockTimeout: a.lockWait, Logger: a.log}
}

// specOf parses a store URL; "" means the store of SESSION_ENGINE and
// SESSION_FILE_PATH.
func specOf(url string) (storeconfig.Spec, error) {
	if url == "" {
		s, err := storeconfig.EnvSpec()
		if err != nil {
			return s, &statusError{exitUsage, err}
		}
		return s, nil
	}
	return storeconfig.ParseURL(url)
}

// closeStore closes o, keeping the first error.
func closeStore(o *storeconfig.Opened, err *error) {
	if cerr := o.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close %s: %w", o.Spec, cerr)
	}
}

// newEngine returns an engine over st for the per-user operations. It
// never sweeps in the background: a command does only what it is asked.
func (a *app) newEngine(st session.Store) (*session.Engine, error) {
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	opts.Logger = a.log
	return session.New(st, opts)
}

// printJSON writes v as one indented JSON document.
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(escapeJSON(b), '\n'))
	return err
}
