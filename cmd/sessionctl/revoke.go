package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkv/session"
)

var revokeCommand = &command{
	name:     "revoke",
	synopsis: "--user UID [--store URL] [--json]",
	summary:  "delete every session of a user (log out everywhere)",
	details: `
Deletes every session whose owner (Session.SetUserID) is UID: the user is
logged out on every device, through the store's user index when it has
one and by reading every session otherwise. A request of that user still in
flight cannot bring its session back: its commit fails and the user must
log in again. Prints how many sessions were deleted.

Django's stores keep no index of owners: revoke reads every session and
takes its owner from django.contrib.auth's user ID in the data, which
needs SECRET_KEY. Django's signed_cookies sessions cannot be revoked:
only changing SECRET_KEY ends them.`,
	example: `
sessionctl revoke --store bolt:/var/lib/app/sessions.db --user 42`,
	run: runRevoke,
}

// revokeResult is the JSON output of revoke.
type revokeResult struct {
	Store   string `json:"store"`
	User    string `json:"user"`
	Revoked int    `json:"revoked"`
	// Method is "index" when the store's user index found the sessions,
	// "scan" when every session was read.
	Method string `json:"method"`
}

func runRevoke(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	storeURL := storeFlag(fs)
	uid := fs.String("user", "", "the user `UID` whose sessions to delete (required)")
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	if *uid == "" {
		return usageErrorf("missing --user UID")
	}
	o, err := a.open(*storeURL, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	res := revokeResult{Store: o.Spec.String(), User: *uid, Method: "index"}
	res.Revoked, err = a.revokeIndexed(ctx, o.Store, *uid)
	if errors.Is(err, session.ErrNotSupported) {
		res.Method = "scan"
		res.Revoked, err = a.revokeScanned(ctx, o.Store, *uid)
	}
	if err != nil {
		return fmt.Errorf("revoke user %q (%d sessions deleted): %w", *uid, res.Revoked, err)
	}
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprintf(a.stdout, "revoked %s of user %q in %s\n", plural(res.Revoked, "session"), *uid, printable(o.Spec.String()))
	return err
}

// revokeIndexed deletes uid's sessions through the store's user index. It
// returns an error wrapping session.ErrNotSupported when there is none.
func (a *app) revokeIndexed(ctx context.Context, st session.Store, uid string) (int, error) {
	e, err := a.newEngine(st)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	return e.DeleteUser(ctx, uid)
}

// revokeScanned finds uid's sessions by reading every session, then
// deletes them.
func (a *app) revokeScanned(ctx context.Context, st session.Store, uid string) (int, error) {
	var keys []string
	err := a.scan(ctx, st, "finding the user's sessions", func(key string, rec session.Record) (bool, error) {
		if rec.UserID == uid {
			keys = append(keys, key)
		}
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for i, key := range keys {
		if err := st.Delete(ctx, key); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}
