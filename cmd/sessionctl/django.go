package main

import (
	"context"
	"fmt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/sqlstore"
)

// storeCodec returns the codec the sessions of o are encoded with, when the
// store says (Django's, with SECRET_KEY), or nil when only the operator
// can (show's --codec).
func storeCodec(o *storeconfig.Opened) session.Codec {
	if o.Django == nil {
		return nil
	}
	opts := session.DefaultOptions()
	o.Options(opts)
	return opts.Codec
}

// djangoOwners is Django's table (sqlstore.DjangoStore) with the owner of
// each record worked out from its session data, django.contrib.auth's
// _auth_user_id, since the table keeps none: ls, stats and revoke --user
// then see owners as they do in every other store. A record that does not
// decode with the store's codec (SECRET_KEY) has none. Every other method
// is the store's.
type djangoOwners struct {
	*sqlstore.DjangoStore
	codec session.Codec
}

// withOwner returns rec with its owner filled in.
func (d djangoOwners) withOwner(rec session.Record) session.Record {
	oc, ok := d.codec.(session.OwnerCodec)
	if rec.UserID != "" || !ok {
		return rec
	}
	if c, err := session.DecodeRecord(rec, d.codec); err == nil {
		rec.UserID = oc.Owner(c.Values)
	}
	return rec
}

// Load implements session.Store.
func (d djangoOwners) Load(ctx context.Context, key string) (session.Record, error) {
	rec, err := d.DjangoStore.Load(ctx, key)
	return d.withOwner(rec), err
}

// Range implements session.Ranger.
func (d djangoOwners) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return d.DjangoStore.Range(ctx, func(key string, rec session.Record) bool { return fn(key, d.withOwner(rec)) })
}

// RangeExpired implements session.ExpiredRanger.
func (d djangoOwners) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return d.DjangoStore.RangeExpired(ctx, func(key string, rec session.Record) bool { return fn(key, d.withOwner(rec)) })
}

// djangoShowKey returns the key of the Django store s that show's
// arguments name: a session key, given as KEY or --cookie (the store key
// is the cookie), or for signed_cookies the cookie itself.
func djangoShowKey(s storeconfig.Spec, pos []string, cookie string) (string, error) {
	switch {
	case len(pos) > 1:
		return "", usageErrorf("unexpected argument %q", pos[1])
	case len(pos) == 1 && cookie != "":
		return "", usageErrorf("give a KEY or --cookie, not both")
	case s.Engine == storeconfig.EngineDjangoSignedCookies && len(pos) == 1:
		return "", usageErrorf("Django's signed_cookies sessions have no store key: give the cookie's value with --cookie")
	case s.Engine == storeconfig.EngineDjangoSignedCookies && cookie == "":
		return "", usageErrorf("missing --cookie VALUE")
	case s.Engine == storeconfig.EngineDjangoSignedCookies:
		return cookie, nil
	case len(pos) == 1:
		cookie = pos[0]
	case cookie == "":
		return "", usageErrorf("missing KEY or --cookie ID")
	}
	if !djangosession.IDs.ValidID(cookie) {
		return "", usageErrorf("%s is not a Django session key (%d characters of [a-z0-9])", printable(cookie), djangosession.SessionKeyLen)
	}
	return djangosession.IDs.StoreKey(cookie), nil
}

// checkFormats refuses a migration between a store in Django's format and
// one in the engine's own: records are copied as they are.
func checkFormats(from, to storeconfig.Spec) error {
	for _, s := range []storeconfig.Spec{from, to} {
		if s.Engine == storeconfig.EngineDjangoSignedCookies || s.Engine == storeconfig.EngineCookie {
			return usageErrorf("%s keeps its sessions in the visitors' cookies: there is no store to copy from or to", printable(s.String()))
		}
	}
	if from.IsDjango() == to.IsDjango() {
		return nil
	}
	django, own := from, to
	if to.IsDjango() {
		django, own = to, from
	}
	return usageErrorf("%s holds Django's sessions and %s sessionkv's: migrate copies records as they are, and the formats differ "+
		"(Django's signed JSON under its session keys, sessionkv's records under hashes of its own session IDs), "+
		"so no cookie of one would open a session of the other; migrate between two Django stores, or two sessionkv stores",
		printable(django.String()), printable(own.String()))
}

// errNoSealedStore explains why a command cannot list the sessions of a
// store that keeps them in cookies.
var errNoSealedStore = fmt.Errorf("%w: sessions live in the visitors' cookies, so there is no store to list", session.ErrNotSupported)
