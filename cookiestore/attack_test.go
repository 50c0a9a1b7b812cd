package cookiestore_test

// Tests of the cookie store's length promise and of its promise
// that every cookie Seal issues opens. Each reproduces an
// attack and checks that it fails.

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cookiestore"
)

// TestSeal_FarFutureExpiryOpens: the payload holds the expiry as Unix
// milliseconds in 64 bits, which wrap beyond about ±292 million years. A
// session given such an expiry, say time.Unix(math.MaxInt64, 0) as "never",
// is sealed into a cookie that opens (the expiry is clamped), never one
// that opens as expired.
func TestSeal_FarFutureExpiryOpens(t *testing.T) {
	st, err := cookiestore.New(key1)
	if err != nil {
		t.Fatal(err)
	}
	for _, exp := range []time.Time{
		time.Unix(math.MaxInt64/1000+1, 0),
		time.Unix(1<<62, 0),
		time.Unix(math.MaxInt64, 0),
	} {
		rec := session.Record{Data: []byte("cart"), Expires: exp}
		v, err := st.Seal(rec, 4000)
		if err != nil {
			continue // refusing is fine
		}
		if _, err := st.Open(v); err != nil {
			t.Errorf("Seal(expires %v) issued a cookie that does not open: %v", exp.UTC(), err)
		}
	}
}

// TestOpen_ModeAndFlagConfusionIsRejected: a cookie sealed in one mode
// does not open in the other with the same secret, and flipping the
// compression flag or the mode byte of a valid cookie is rejected (the
// header is authenticated), with every key tried.
func TestOpen_ModeAndFlagConfusionIsRejected(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	enc, _ := cookiestore.NewWithOptions(&cookiestore.Options{Logger: quiet}, key2, key1)
	sig, _ := cookiestore.NewWithOptions(&cookiestore.Options{SignOnly: true, Logger: quiet}, key2, key1)
	rec := session.Record{Data: []byte(strings.Repeat("z", 2000)), Expires: time.Now().Add(time.Hour), UserID: "u"}
	for _, from := range []*cookiestore.Store{enc, sig} {
		v, err := from.Seal(rec, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		for i, mut := range []func([]byte){
			func(b []byte) { b[1] ^= 1 },        // compression flag
			func(b []byte) { b[0] = 3 - b[0] },  // the other mode
			func(b []byte) { b[len(b)-1] ^= 1 }, // tag or MAC
		} {
			m := append([]byte(nil), raw...)
			mut(m)
			mv := base64.RawURLEncoding.EncodeToString(m)
			for _, to := range []*cookiestore.Store{enc, sig} {
				if _, err := to.Open(mv); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("mutation %d opened: %v", i, err)
				}
			}
		}
		other := sig
		if from == sig {
			other = enc
		}
		if _, err := other.Open(v); err == nil {
			t.Error("a cookie opened in the other mode")
		}
	}
}

// TestEngine_CookiesAroundTheLimitOpenOrFailLoudly: sessions whose cookie lands
// just under, at and just over the browser limit, in both modes, with the
// sealing key second in line for opening: every save either fails with
// ErrCookieTooLarge or issues a cookie that opens to the same value.
func TestEngine_CookiesAroundTheLimitOpenOrFailLoudly(t *testing.T) {
	ctx := context.Background()
	for _, signOnly := range []bool{false, true} {
		sealer, _ := cookiestore.NewWithOptions(&cookiestore.Options{SignOnly: signOnly}, key1)
		opener, _ := cookiestore.NewWithOptions(&cookiestore.Options{SignOnly: signOnly}, key2, key1)
		o := session.DefaultOptions()
		o.SweepInterval = -1
		se, _ := session.New(sealer, o)
		oe, _ := session.New(opener, o)
		saved := 0
		for n := 2700; n <= 3100; n++ {
			s, _ := se.Load(ctx, "")
			s.Set("v", strings.Repeat("q", n))
			if err := se.Save(ctx, s); err != nil {
				if !errors.Is(err, session.ErrCookieTooLarge) {
					t.Fatalf("signOnly=%v n=%d: %v", signOnly, n, err)
				}
				continue
			}
			saved++
			if len("sessionid")+1+len(s.ID()) > 4096 {
				t.Fatalf("signOnly=%v n=%d: cookie of %d bytes", signOnly, n, len(s.ID()))
			}
			back, err := oe.Load(ctx, s.ID())
			if got, _ := back.GetString("v"); err != nil || len(got) != n {
				t.Fatalf("signOnly=%v n=%d: cookie does not open (%v)", signOnly, n, err)
			}
		}
		if saved == 0 || saved == 401 {
			t.Errorf("signOnly=%v: %d of 401 sizes saved: the limit was not crossed", signOnly, saved)
		}
		se.Close()
		oe.Close()
	}
}
