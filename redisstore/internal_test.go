package redisstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/redisstore/redistest"
)

func TestHasHashTag(t *testing.T) {
	tests := []struct {
		prefix string
		want   bool
	}{
		{"sessionkv:", false},
		{"{sessions}:", true},
		{"app:{s}:", true},
		{"{}:", false},  // an empty tag is no tag: the whole key is hashed
		{"a{b:", false}, // no closing brace in the prefix
		{"a}b{c}", true},
	}
	for _, tt := range tests {
		if got := hasHashTag(tt.prefix); got != tt.want {
			t.Errorf("hasHashTag(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	if got, want := escapeGlob(`a*b?c[d]e\f:`), `a\*b\?c\[d\]e\\f:`; got != want {
		t.Errorf("escapeGlob = %q, want %q", got, want)
	}
}

func TestValue_RoundTrip(t *testing.T) {
	for _, rec := range []session.Record{
		{Data: []byte("payload"), Expires: time.UnixMilli(1_800_000_000_123), UserID: "user-1"},
		{Data: []byte{}, Expires: time.UnixMilli(1), UserID: ""},
		{Data: bytes.Repeat([]byte{0}, 1000), Expires: time.UnixMilli(253402300799999), UserID: string(bytes.Repeat([]byte("u"), maxUserIDLen))},
	} {
		v, err := encodeValue(rec, 42)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeValue(v)
		if !ok || !bytes.Equal(got.Data, rec.Data) || !got.Expires.Equal(rec.Expires) || got.UserID != rec.UserID {
			t.Errorf("round trip of %+v gave %+v, %v", rec, got, ok)
		}
		if ownerOf(v) != rec.UserID || len(writeID(v)) != idLen {
			t.Errorf("ownerOf/writeID of %+v wrong", rec)
		}
	}
	if _, err := encodeValue(session.Record{UserID: string(make([]byte, maxUserIDLen+1))}, 1); !errors.Is(err, session.ErrUserIDTooLong) {
		t.Errorf("encodeValue with a long user ID = %v", err)
	}
}

// FuzzDecodeValue checks that no stored bytes make decoding panic, and that
// what decodes is consistent with the header the Lua scripts read.
func FuzzDecodeValue(f *testing.F) {
	v, _ := encodeValue(session.Record{Data: []byte("d"), Expires: time.Now(), UserID: "u"}, 7)
	f.Add(v)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, ok := decodeValue(b)
		if !ok {
			if ownerOf(b) != "" {
				t.Fatal("an undecodable value has an owner")
			}
			return
		}
		if rec.UserID != ownerOf(b) || len(rec.UserID) > maxUserIDLen {
			t.Fatalf("owner %q vs %q", rec.UserID, ownerOf(b))
		}
		again, err := encodeValue(rec, 0)
		if err != nil || !bytes.Equal(again[idLen:], b[idLen:]) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// TestWrite_ResendIsNotAppliedTwice runs the same write twice, as go-redis
// does when a connection fails before the reply arrives: the second run must
// report success without writing again, even though its compare-and-set
// expectation no longer holds.
func TestWrite_ResendIsNotAppliedTwice(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	for _, single := range []bool{true, false} {
		s, err := New(client, &Options{Prefix: "resend" + map[bool]string{true: "1:", false: "2:"}[single]})
		if err != nil {
			t.Fatal(err)
		}
		s.singleSlot = single
		key := "k"
		w := &write{store: s, key: key, token: newToken(), check: 't'}
		if err := w.setRecord(session.Record{Data: []byte("v1"), Expires: time.Now().Add(time.Hour), UserID: "u"}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			res, err := w.run(t.Context())
			if err != nil || !res.ok {
				t.Fatalf("single=%v run %d: %+v, %v", single, i, res, err)
			}
		}
		rec, err := s.Load(t.Context(), key)
		if err != nil || string(rec.Data) != "v1" {
			t.Fatalf("single=%v: %q, %v", single, rec.Data, err)
		}
		keys, err := s.UserKeys(t.Context(), "u")
		if err != nil || len(keys) != 1 {
			t.Fatalf("single=%v: UserKeys = %v, %v", single, keys, err)
		}
	}
}

// TestWrite_StaleClaimIsRenewed checks the split-mode window: a write whose
// claim is older than the window is refused by the script and claimed
// again, and a host whose clock lags Redis's by more than the window gets a
// clear error instead of writes the index might not cover.
func TestWrite_StaleClaimIsRenewed(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	s, err := New(client, &Options{Prefix: "stale:"})
	if err != nil {
		t.Fatal(err)
	}
	s.singleSlot = false
	w := &write{store: s, key: "k", token: newToken(), check: '-'}
	if err := w.setRecord(session.Record{Data: []byte("v"), Expires: time.Now().Add(time.Hour), UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	// A claim made long ago, as if the write had stalled.
	w.claimedAt = time.Now().Add(-2 * claimWindow).UnixMilli()
	w.claimedOwner, w.claimedExpires = "u", w.expires
	res, err := w.run(t.Context())
	if err != nil || !res.ok {
		t.Fatalf("run with a stale claim: %+v, %v", res, err)
	}
	if w.claimedAt < time.Now().Add(-time.Minute).UnixMilli() {
		t.Error("the stale claim was not renewed")
	}

	lagging, err := New(client, &Options{Prefix: "stale:", Now: func() time.Time { return time.Now().Add(-2 * claimWindow) }})
	if err != nil {
		t.Fatal(err)
	}
	lagging.singleSlot = false
	err = lagging.Save(t.Context(), "k2", session.Record{Data: []byte("v"), Expires: time.Now().Add(time.Hour), UserID: "u"})
	if err == nil || !strings.Contains(err.Error(), "clock") {
		t.Errorf("Save from a host whose clock lags = %v, want a clock error", err)
	}
}
