package cookiestore

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"
)

// TestOpen_DecompressesAtMostMaxPayload frames authentic compressed
// payloads that Seal would refuse to build: Open must accept one that
// decompresses to maxPayload bytes and refuse anything larger, up to a
// zip bomb, in both modes and whether or not the store compresses.
func TestOpen_DecompressesAtMostMaxPayload(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, opts := range []Options{{}, {Compress: true}, {SignOnly: true}, {SignOnly: true, Compress: true}} {
		opts.Logger = slog.New(slog.DiscardHandler)
		opts.Now = func() time.Time { return now }
		st, err := NewWithOptions(&opts, bytes.Repeat([]byte("k"), MinKeyLen))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			size  int
			opens bool
		}{
			{compressMin, true},
			{maxPayload, true},
			{maxPayload + 1, false},
			{1 << 20, false}, // 128 times the limit, in a cookie of under 4 KB
		} {
			p := binary.BigEndian.AppendUint64(nil, uint64(now.Add(time.Hour).UnixMilli()))
			p = binary.BigEndian.AppendUint64(p, uint64(now.Unix()))
			p = append(p, 0) // no user ID
			p = append(p, make([]byte, tc.size-len(p))...)
			value := encoding.EncodeToString(st.frame(compress(p), flagCompressed))
			if len(value) > 4096 {
				t.Fatalf("a %d-byte test cookie: browsers would not keep it", len(value))
			}
			rec, err := st.Open(value)
			if opened := err == nil; opened != tc.opens {
				t.Errorf("signOnly=%v compress=%v: a %d-byte cookie decompressing to %d bytes: Open = %v; want opened %v",
					opts.SignOnly, opts.Compress, len(value), tc.size, err, tc.opens)
			}
			if err == nil && len(rec.Data) != tc.size-17 {
				t.Errorf("%d bytes decompressed to %d bytes of data, want %d", tc.size, len(rec.Data), tc.size-17)
			}
		}
	}
}
