package main

import (
	"context"
	"fmt"

	"github.com/sessionkv/session/boltstore"
)

var salvageCommand = &command{
	name:     "salvage",
	synopsis: "--from bolt:DAMAGED --to URL [--parallel N] [--json]",
	summary:  "copy every readable session out of a damaged bbolt file",
	details: `
Reads a bbolt session file that may be damaged (one 'sessionctl check'
rejects and a server refuses to open) without changing it, and copies
every session that can still be read, is well-formed and has not expired
into the store --to names (a new bolt file, say), keeping store keys so
cookies stay valid. Damaged pages are skipped with everything below them;
pages of deleted sessions are never brought back.

It then prints what was copied and what was lost: the sessions the file's
expiry index lists as live whose record could not be read. When the index
itself is damaged, that count is a lower bound. Exit status 0 means
nothing live was lost, 3 that the copy is done but sessions were lost.
Replace the damaged file with the new one while the server is stopped.`,
	example: `
sessionctl salvage --from bolt:/var/lib/app/sessions.db --to bolt:/var/lib/app/sessions.new.db
mv /var/lib/app/sessions.db /var/lib/app/sessions.damaged.db
mv /var/lib/app/sessions.new.db /var/lib/app/sessions.db`,
	run: runSalvage,
}

// salvageResult is the output of salvage.
type salvageResult struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Copied int    `json:"copied"`
	// The counts of boltstore.SalvageReport.
	Expired      int      `json:"expired"`
	DamagedPages int      `json:"damaged_pages"`
	Malformed    int      `json:"malformed"`
	Unlisted     int      `json:"unlisted"`
	Lost         int      `json:"lost"`
	IndexDamaged bool     `json:"index_damaged"`
	Problems     []string `json:"problems,omitempty"`
	OK           bool     `json:"ok"`
}

func runSalvage(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	fromURL := fs.String("from", "", "the damaged bolt store's `URL` (required)")
	toURL := fs.String("to", "", "the target store `URL` (required)")
	parallel := fs.Int("parallel", 16, "how many sessions to write at once (`N`)")
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *fromURL == "" {
		return usageErrorf("missing --from bolt:PATH")
	}
	from, to, err := migrateSpecs(*fromURL, *toURL, *parallel)
	if err != nil {
		return err
	}
	if !isBolt(from) {
		return usageErrorf("--from %s: salvage reads bolt files only", printable(from.String()))
	}
	path, err := from.ExistingBoltFile()
	if err != nil {
		return fmt.Errorf("%s: %w", printable(from.String()), err)
	}
	dst, err := a.openSpec(to, false)
	if err != nil {
		return err
	}
	defer closeStore(dst, &err)

	res := salvageResult{From: from.String(), To: dst.Spec.String()}
	var keys keySet
	var rep boltstore.SalvageReport
	res.Copied, err = a.copyAll(ctx, dst.Store, &keys, *parallel, func(ctx context.Context, emit emitFunc) error {
		var err error
		opts := &boltstore.Options{Timeout: a.lockWait, Logger: a.log}
		rep, err = boltstore.Salvage(ctx, path, opts, emit)
		return err
	})
	if err != nil {
		return fmt.Errorf("salvage %s to %s (%d copied): %w", res.From, res.To, res.Copied, err)
	}
	var check migrateResult
	check.Copied = res.Copied
	if err := a.verify(ctx, dst.Store, &keys, &check); err != nil {
		return fmt.Errorf("check %s: %w", res.To, err)
	}
	if !check.OK {
		return fmt.Errorf("%d of %d copied sessions are missing from %s", check.Missing, check.Copied, res.To)
	}
	res.Expired, res.DamagedPages, res.Malformed = rep.Expired, rep.DamagedPages, rep.Malformed
	res.Unlisted, res.Lost, res.IndexDamaged, res.Problems = rep.Unlisted, rep.Lost, rep.IndexDamaged, rep.Problems
	res.OK = rep.Lost == 0 && !rep.IndexDamaged
	if err := a.printSalvage(res); err != nil {
		return err
	}
	if !res.OK {
		return &statusError{exitCheck, fmt.Errorf("copied %s to %s; %s", plural(res.Copied, "session"), res.To, lostText(res))}
	}
	return nil
}

// lostText says how many sessions were lost.
func lostText(r salvageResult) string {
	if r.IndexDamaged {
		return fmt.Sprintf("at least %s lost (the expiry index is damaged too, so more may be)", plural(r.Lost, "session"))
	}
	return plural(r.Lost, "session") + " lost"
}

func (a *app) printSalvage(r salvageResult) error {
	if a.json {
		return a.printJSON(r)
	}
	fmt.Fprintf(a.stdout, "copied %s from %s to %s\n", plural(r.Copied, "session"), printable(r.From), printable(r.To))
	fmt.Fprintf(a.stdout, "%s; left out: %d expired, %d malformed, %d not in the expiry index; %d damaged pages skipped\n",
		lostText(r), r.Expired, r.Malformed, r.Unlisted, r.DamagedPages)
	for _, p := range r.Problems {
		fmt.Fprintf(a.stdout, "damaged: %s\n", printable(p))
	}
	return nil
}
