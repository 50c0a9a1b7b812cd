package redisstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sessionkv/session"
)

// A stored value is a small binary envelope:
//
//	offset  size  field
//	0       1     format, always 1
//	1       8     write token: random, new for every write
//	9       8     expiry, Unix milliseconds, big endian
//	17      2     length n of the owner's user ID, big endian
//	19      n     the owner's user ID
//	19+n    ...   the encoded session (Record.Data)
//
// The format byte and the token (the first idLen bytes) identify one write:
// UpdateRecord's compare-and-set compares them, and the Lua scripts read the owner
// with string.byte, so the layout must not change without a new format byte.
const (
	formatV1  = 1
	idLen     = 9 // format byte and token
	headerLen = 19
)

// maxUserIDLen bounds the owner's user ID.
const maxUserIDLen = session.MaxUserIDLen

// newToken returns a write token. Tokens only need to be unique, not
// secret: a collision within one key's history (2^-64 per write) is the
// only way two writes look alike.
func newToken() uint64 { return rand.Uint64() }

// encodeValue returns the envelope of rec written with token.
func encodeValue(rec session.Record, token uint64) ([]byte, error) {
	if err := session.CheckUserID(rec.UserID); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	v := make([]byte, headerLen, headerLen+len(rec.UserID)+len(rec.Data))
	v[0] = formatV1
	binary.BigEndian.PutUint64(v[1:], token)
	binary.BigEndian.PutUint64(v[9:], uint64(rec.Expires.UnixMilli()))
	binary.BigEndian.PutUint16(v[17:], uint16(len(rec.UserID)))
	v = append(v, rec.UserID...)
	return append(v, rec.Data...), nil
}

// header is the parsed front of an envelope; userID points into it.
type header struct {
	expires int64 // Unix milliseconds
	userID  []byte
	bodyAt  int // offset of the data
}

// parseHeader parses the front of an envelope. It needs only the first
// headerLen+len(userID) bytes, so it also works on a prefix read with
// GETRANGE. ok is false for anything that is not a format 1 envelope.
func parseHeader(v []byte) (h header, ok bool) {
	if len(v) < headerLen || v[0] != formatV1 {
		return header{}, false
	}
	n := int(binary.BigEndian.Uint16(v[17:]))
	if n > maxUserIDLen || len(v) < headerLen+n {
		return header{}, false
	}
	return header{
		expires: int64(binary.BigEndian.Uint64(v[9:])),
		userID:  v[headerLen : headerLen+n],
		bodyAt:  headerLen + n,
	}, true
}

// decodeValue returns the record in v. Data aliases v.
func decodeValue(v []byte) (session.Record, bool) {
	h, ok := parseHeader(v)
	if !ok {
		return session.Record{}, false
	}
	return session.Record{
		Data:    v[h.bodyAt:],
		Expires: time.UnixMilli(h.expires),
		UserID:  string(h.userID),
	}, true
}

// writeID returns the part of an envelope that identifies its write, "" for
// a missing value.
func writeID(v []byte) string {
	if len(v) < idLen {
		return string(v)
	}
	return string(v[:idLen])
}

// ownerOf returns the owner recorded in v, "" for none or for a value that
// is not an envelope (the Lua scripts read it the same way).
func ownerOf(v []byte) string {
	h, ok := parseHeader(v)
	if !ok {
		return ""
	}
	return string(h.userID)
}

// A user index entry is the write token of the claim (8 bytes) and the
// claim's time in Unix milliseconds (8 bytes), both big endian. Tokens make
// every entry unique, so conditional removal never deletes a newer claim.
const entryLen = 16

func encodeEntry(token uint64, claimedAt int64) []byte {
	e := make([]byte, entryLen)
	binary.BigEndian.PutUint64(e, token)
	binary.BigEndian.PutUint64(e[8:], uint64(claimedAt))
	return e
}

// entryClaimedAt returns the claim time of an index entry; ok is false for a
// malformed one.
func entryClaimedAt(e string) (int64, bool) {
	if len(e) != entryLen {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(e[8:]))), true
}
