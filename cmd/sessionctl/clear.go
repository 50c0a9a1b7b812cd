package main

import (
	"context"
	"fmt"

	"github.com/sessionkv/session"
)

var clearCommand = &command{
	name:     "clearsessions",
	synopsis: "[--store URL] [--json]",
	summary:  "delete expired sessions now",
	details: `
Deletes every session that has expired, as Django's "manage.py
clearsessions" does, and prints how many. Servers also sweep in the
background; run this from cron for stores no server sweeps, or before
"compact". A bbolt file must not be in use by a server (see compact).`,
	example: `
sessionctl clearsessions --store file:/var/lib/app/sessions
# cron, every hour:
0 * * * * SESSION_ENGINE=file SESSION_FILE_PATH=/var/lib/app/sessions sessionctl clearsessions --json`,
	run: runClear,
}

// clearResult is the JSON output of clearsessions.
type clearResult struct {
	Store   string `json:"store"`
	Deleted int    `json:"deleted"`
	// Note explains a count of 0 from a store that expires sessions on
	// its own (Redis), or keeps none (cookies).
	Note string `json:"note,omitempty"`
}

func runClear(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	storeURL := storeFlag(fs)
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	o, err := a.open(*storeURL, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	res := clearResult{Store: o.Spec.String()}
	sw, ok := session.As[session.Sweeper](o.Store)
	if ok {
		bar := a.spinner("deleting expired sessions")
		res.Deleted, err = sw.DeleteExpired(ctx)
		bar.finish()
		if err != nil {
			return fmt.Errorf("delete expired sessions in %s (%d deleted): %w", o.Spec, res.Deleted, err)
		}
	} else if _, sealed := o.Store.(session.Sealer); sealed {
		res.Note = "sessions live in the visitors' cookies, and expire with them"
	} else {
		res.Note = "this store deletes expired sessions itself"
	}
	if a.json {
		return a.printJSON(res)
	}
	note := ""
	if res.Note != "" {
		note = " (" + res.Note + ")"
	}
	_, err = fmt.Fprintf(a.stdout, "deleted %s from %s%s\n", plural(res.Deleted, "expired session"), printable(res.Store), note)
	return err
}
