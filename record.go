package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The engine stores a session as a small envelope around the codec's output:
//
//	byte 0      format version (recordVersion)
//	byte 1      expiry kind (expiryKind)
//	varint      the kind's argument: max age in nanoseconds (expiryMaxAge),
//	            or Unix seconds then a uvarint of nanoseconds (expiryAt,
//	            which may lie past 2262); absent for other kinds
//	rest        the codec's encoding of the values
//
// The per-session expiry choice is metadata beside the values, not a key
// among them, so Keys and Len show only what the application stored.
const recordVersion = 1

// appendEnvelope appends the envelope header for exp to dst.
func appendEnvelope(dst []byte, exp expiry) []byte {
	dst = append(dst, recordVersion, byte(exp.kind))
	switch exp.kind {
	case expiryMaxAge:
		dst = binary.AppendVarint(dst, int64(exp.maxAge))
	case expiryAt:
		dst = binary.AppendVarint(dst, exp.at.Unix())
		dst = binary.AppendUvarint(dst, uint64(exp.at.Nanosecond()))
	}
	return dst
}

// encodeRecord appends the envelope and the encoded values to dst, or what
// a RecordCodec makes of them.
func encodeRecord(dst []byte, c Codec, values map[string]any, exp expiry) ([]byte, error) {
	if rc, ok := c.(RecordCodec); ok {
		return rc.EncodeRecord(dst, values, exp.exported())
	}
	return c.Encode(appendEnvelope(dst, exp), values)
}

// parseEnvelope splits what appendEnvelope wrote from the codec's payload.
// Any malformation gives an error wrapping ErrCorrupt.
func parseEnvelope(data []byte) (exp expiry, payload []byte, err error) {
	if len(data) < 2 {
		return exp, nil, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(data))
	}
	if data[0] != recordVersion {
		return exp, nil, fmt.Errorf("%w: unknown record version %d", ErrCorrupt, data[0])
	}
	exp.kind = expiryKind(data[1])
	rest := data[2:]
	switch exp.kind {
	case expiryDefault, expiryBrowserClose:
	case expiryMaxAge, expiryAt:
		v, n := binary.Varint(rest)
		if n <= 0 {
			return exp, nil, fmt.Errorf("%w: bad expiry argument", ErrCorrupt)
		}
		rest = rest[n:]
		if exp.kind == expiryMaxAge {
			exp.maxAge = time.Duration(v)
			break
		}
		ns, n := binary.Uvarint(rest)
		if n <= 0 || ns >= 1e9 {
			return exp, nil, fmt.Errorf("%w: bad expiry nanoseconds", ErrCorrupt)
		}
		rest = rest[n:]
		exp.at = time.Unix(v, int64(ns)).UTC()
	default:
		return exp, nil, fmt.Errorf("%w: unknown expiry kind %d", ErrCorrupt, exp.kind)
	}
	return exp, rest, nil
}

// decodeRecord parses what encodeRecord wrote. Any malformation gives an
// error wrapping ErrCorrupt.
func decodeRecord(data []byte, c Codec) (map[string]any, expiry, error) {
	if rc, ok := c.(RecordCodec); ok {
		values, x, err := rc.DecodeRecord(data)
		if err != nil {
			return nil, expiry{}, err
		}
		exp, err := expiryOf(x)
		return values, exp, err
	}
	exp, payload, err := parseEnvelope(data)
	if err != nil {
		return nil, exp, err
	}
	values, err := c.Decode(payload)
	if err != nil {
		return nil, exp, err
	}
	return values, exp, nil
}

// loadRecord loads what encodeRecord wrote into d and returns the expiry
// choice. With MsgpackCodec the values stay encoded, indexed by one pass
// that checks the whole record, and each is decoded when first read; other
// codecs decode them all. buf, if not nil, is the recycled buffer data lies
// in: kept reports that d took it, to give back when done with data. Any
// malformation gives an error wrapping ErrCorrupt.
func loadRecord(d *dict, data []byte, c Codec, buf *[]byte) (exp expiry, kept bool, err error) {
	if _, ok := c.(MsgpackCodec); ok {
		exp, payload, err := parseEnvelope(data)
		if err != nil {
			return exp, false, err
		}
		err = d.index(payload, buf)
		if !errors.Is(err, errNotIndexable) {
			return exp, err == nil && buf != nil, err
		}
	}
	values, exp, err := decodeRecord(data, c)
	if err != nil {
		return exp, false, err
	}
	d.fill(values)
	return exp, false, nil
}

// encodeSession appends the record of the values d holds with the expiry
// choice exp to dst. With MsgpackCodec, values loaded and not changed are
// copied as they were stored, not encoded again.
func encodeSession(dst []byte, c Codec, d *dict, exp expiry) ([]byte, error) {
	if _, ok := c.(MsgpackCodec); ok {
		return d.appendMsgpack(appendEnvelope(dst, exp))
	}
	values, err := d.toMap()
	if err != nil {
		return dst, err
	}
	return encodeRecord(dst, c, values, exp)
}

// mergeRecord appends to dst the stored record cur with a session's
// changes applied: its changed keys, and its expiry choice if it changed.
// Keys other requests saved meanwhile are kept; with MsgpackCodec or a
// Merger their values are copied without being decoded. It also returns
// the merged values when it decoded them (not with those).
func mergeRecord(dst, cur []byte, c Codec, ch changes) ([]byte, expiry, map[string]any, error) {
	if _, ok := c.(RecordCodec); ok {
		values, exp, err := decodeRecord(cur, c)
		if err != nil {
			return dst, exp, nil, err
		}
		if ch.expiry != nil {
			exp = *ch.expiry
		}
		ch.d.apply(values)
		dst, err = encodeRecord(dst, c, values, exp)
		return dst, exp, values, err
	}
	exp, payload, err := parseEnvelope(cur)
	if err != nil {
		return dst, exp, nil, err
	}
	if ch.expiry != nil {
		exp = *ch.expiry
	}
	dst = appendEnvelope(dst, exp)
	if _, ok := c.(MsgpackCodec); ok {
		dst, err = ch.d.mergeMsgpack(dst, payload)
		return dst, exp, nil, err
	}
	if m, ok := c.(Merger); ok {
		values, changed := ch.d.changes()
		dst, err = m.Merge(dst, payload, values, changed)
		return dst, exp, nil, err
	}
	values, err := c.Decode(payload)
	if err != nil {
		return dst, exp, nil, err
	}
	ch.d.apply(values)
	dst, err = c.Encode(dst, values)
	return dst, exp, values, err
}

// owner returns the owner of a record of values whose owner column says
// uid: the codec's, when its format keeps the owner among the values
// (OwnerCodec), else uid.
func owner(c Codec, values map[string]any, uid string) string {
	if oc, ok := c.(OwnerCodec); ok {
		return oc.Owner(values)
	}
	return uid
}
