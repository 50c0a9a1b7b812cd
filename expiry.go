package session

import (
	"fmt"
	"time"
)

// expiryKind is the per-session expiry choice, Django's set_expiry.
type expiryKind uint8

const (
	expiryDefault      expiryKind = iota // the engine's policy (Django: None)
	expiryMaxAge                         // a max age from the last save (int)
	expiryAt                             // an absolute time (datetime)
	expiryBrowserClose                   // expire at browser close (0)
)

// ExpiryKind is a session's expiry choice, Django's set_expiry, as a
// RecordCodec sees it.
type ExpiryKind uint8

// The expiry choices.
const (
	// ExpiryDefault follows the engine's policy (Options.CookieAge,
	// Options.ExpireAtBrowserClose): Django's set_expiry(None).
	ExpiryDefault = ExpiryKind(expiryDefault)
	// ExpiryMaxAge expires MaxAge after the last save: set_expiry(int).
	ExpiryMaxAge = ExpiryKind(expiryMaxAge)
	// ExpiryAt expires at At: set_expiry(datetime).
	ExpiryAt = ExpiryKind(expiryAt)
	// ExpiryBrowserClose expires when the browser closes: set_expiry(0).
	ExpiryBrowserClose = ExpiryKind(expiryBrowserClose)
)

// Expiry is a session's expiry choice, as a RecordCodec stores it.
type Expiry struct {
	Kind   ExpiryKind
	MaxAge time.Duration // ExpiryMaxAge
	At     time.Time     // ExpiryAt
}

// exported returns x as an Expiry.
func (x expiry) exported() Expiry {
	return Expiry{Kind: ExpiryKind(x.kind), MaxAge: x.maxAge, At: x.at}
}

// expiryOf returns the expiry choice that x describes, or an error
// wrapping ErrCorrupt for an unknown kind.
func expiryOf(x Expiry) (expiry, error) {
	switch x.Kind {
	case ExpiryDefault, ExpiryBrowserClose:
		return expiry{kind: expiryKind(x.Kind)}, nil
	case ExpiryMaxAge:
		return expiry{kind: expiryMaxAge, maxAge: x.MaxAge}, nil
	case ExpiryAt:
		return expiry{kind: expiryAt, at: x.At.UTC()}, nil
	}
	return expiry{}, fmt.Errorf("%w: unknown expiry kind %d", ErrCorrupt, x.Kind)
}

// expiry is a session's expiry choice.
type expiry struct {
	kind   expiryKind
	maxAge time.Duration // expiryMaxAge
	at     time.Time     // expiryAt
}

// expiryAge is Django's get_expiry_age, in whole seconds, as of now.
func (e *Engine) expiryAge(x expiry, now time.Time) time.Duration {
	switch x.kind {
	case expiryMaxAge:
		return x.maxAge.Truncate(time.Second)
	case expiryAt:
		return x.at.Sub(now).Truncate(time.Second)
	}
	return e.opts.CookieAge.Truncate(time.Second)
}

// expiryDate is Django's get_expiry_date, as of now.
func (e *Engine) expiryDate(x expiry, now time.Time) time.Time {
	switch x.kind {
	case expiryMaxAge:
		return now.Add(x.maxAge)
	case expiryAt:
		return x.at
	}
	return now.Add(e.opts.CookieAge)
}

// expireAtBrowserClose is Django's get_expire_at_browser_close.
func (e *Engine) expireAtBrowserClose(x expiry) bool {
	if x.kind == expiryDefault {
		return e.opts.ExpireAtBrowserClose
	}
	return x.kind == expiryBrowserClose
}

// recordExpiry is when a record saved now stops being valid: the expiry
// date, brought forward by the idle timeout.
func (e *Engine) recordExpiry(x expiry, now time.Time) time.Time {
	t := e.expiryDate(x, now)
	if e.opts.IdleTimeout > 0 {
		if idle := now.Add(e.opts.IdleTimeout); idle.Before(t) {
			t = idle
		}
	}
	return t
}
