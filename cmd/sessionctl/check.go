package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/storeconfig"
)

var checkCommand = &command{
	name:     "check",
	synopsis: "[--store bolt:PATH] [--json]",
	summary:  "verify a bbolt file's structure; exit 3 if it is damaged",
	details: `
Reads every page of a bbolt session file that is in use, once, without
changing the file and without a memory map, and checks its structure as
bbolt relies on it: the meta pages, the page tree of every bucket, the
order of keys. A sound file prints "ok" and exits 0. A damaged one prints
what is wrong and where and exits 3: a server cannot open it, and
'sessionctl salvage' copies every session that can still be read into a
new file.

A file the store can open may still hold records whose bytes were damaged
in place; the server loads those as missing and logs them. The store must
not be open in a server (exit 5 after --lock-wait).`,
	example: `
sessionctl check --store bolt:/var/lib/app/sessions.db || \
  sessionctl salvage --from bolt:/var/lib/app/sessions.db --to bolt:/var/lib/app/sessions.new.db`,
	run: runCheck,
}

// checkResult is the output of check.
type checkResult struct {
	Store   string `json:"store"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
}

func runCheck(ctx context.Context, a *app, args []string) error {
	fs := a.flags()
	storeURL := storeFlag(fs)
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	spec, err := boltSpec(*storeURL, "check")
	if err != nil {
		return err
	}
	path, err := spec.ExistingBoltFile()
	if err != nil {
		return fmt.Errorf("%s: %w", printable(spec.String()), err)
	}
	res := checkResult{Store: spec.String(), OK: true}
	err = boltstore.Check(path, &boltstore.Options{Timeout: a.lockWait, Logger: a.log})
	switch {
	case errors.Is(err, session.ErrCorrupt):
		res.OK, res.Problem = false, err.Error()
	case err != nil:
		return err
	}
	if a.json {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(a.stdout, "ok: %s is sound\n", printable(res.Store))
	}
	if !res.OK {
		return &statusError{exitCheck, fmt.Errorf("%s is damaged: %w; copy what can be read with 'sessionctl salvage --from %s --to bolt:NEW'",
			printable(res.Store), err, printable(res.Store))}
	}
	return nil
}

// isBolt reports whether spec names a bolt file: a bolt store, or the
// file behind SESSION_ENGINE=cached.
func isBolt(spec storeconfig.Spec) bool {
	return spec.Engine == storeconfig.SchemeBolt || spec.Engine == storeconfig.EngineCached
}

// boltSpec parses url, which must name a bolt store, for command cmd.
func boltSpec(url, cmd string) (storeconfig.Spec, error) {
	spec, err := specOf(url)
	if err != nil {
		return spec, err
	}
	if !isBolt(spec) {
		return spec, usageErrorf("%s: %s works on bolt stores only", printable(spec.String()), cmd)
	}
	return spec, nil
}
