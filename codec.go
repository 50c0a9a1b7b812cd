package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Codec turns a session's values into bytes and back. Implementations must be
// safe for concurrent use.
//
// Decode must never panic and must bound what it allocates by the size of
// its input: it is handed whatever a store returns, which may be corrupt.
type Codec interface {
	// Encode appends the encoding of values to dst and returns the extended
	// slice. values holds only session-model types (see the package
	// documentation).
	Encode(dst []byte, values map[string]any) ([]byte, error)
	// Decode parses data into a new map. It returns an error wrapping
	// ErrCorrupt when data is not a valid encoding.
	Decode(data []byte) (map[string]any, error)
}

// Merger is an optional interface for codecs that can apply a session's
// changes to its encoded form without decoding the values left untouched.
// The engine uses it to merge a request's changes into the record as it is
// in the store when it commits; without it, the engine decodes, applies and
// re-encodes.
type Merger interface {
	// Merge appends to dst the encoding of the values in encoded, with each
	// key in changed set to values[key] when values holds it and removed
	// when it does not. Keys of encoded not in changed are kept as they are.
	Merge(dst, encoded []byte, values map[string]any, changed map[string]struct{}) ([]byte, error)
}

// RecordCodec is an optional interface for codecs whose encoding is the
// whole stored record, the session's expiry choice included, in a format
// that another program reads and writes too (Django's, in package
// djangosession). The engine then stores what EncodeRecord returns as it
// is, without the envelope it otherwise puts around Encode's output, and
// commits a request's changes by decoding the stored record, applying them
// and encoding it again (Merger is not used).
type RecordCodec interface {
	Codec
	// EncodeRecord appends the record of values with the expiry choice exp
	// to dst.
	EncodeRecord(dst []byte, values map[string]any, exp Expiry) ([]byte, error)
	// DecodeRecord parses a record into its values and expiry choice. It
	// returns an error wrapping ErrCorrupt when data is not a valid record.
	DecodeRecord(data []byte) (map[string]any, Expiry, error)
}

// OwnerCodec is an optional interface for codecs whose format keeps the
// session's owner among its values (Django's "_auth_user_id"). The engine
// then takes the owner from the values: a save records Owner(values) as
// the Record's UserID, and Session.UserID returns it.
type OwnerCodec interface {
	Codec
	// Owner returns the owner recorded in values, or "" for none.
	Owner(values map[string]any) string
}

// MsgpackCodec is the default Codec: MessagePack through
// github.com/vmihailenco/msgpack/v5, with pooled encoders and decoders. It
// preserves the whole session type model: every value comes back with the
// dynamic type and value it had when it was set.
type MsgpackCodec struct{}

var (
	_ Codec  = MsgpackCodec{}
	_ Merger = MsgpackCodec{}
)

type msgpackEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

// appendWriter lets a msgpack.Encoder append straight into a caller's slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *appendWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

var msgpackEncoders = sync.Pool{New: func() any {
	e := &msgpackEncoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// getEncoder returns a pooled encoder that appends to dst.
func getEncoder(dst []byte) *msgpackEncoder {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = dst
	return e
}

// release returns e to the pool, without the caller's slice.
func (e *msgpackEncoder) release() {
	e.w.b = nil
	msgpackEncoders.Put(e)
}

type msgpackDecoder struct {
	data   []byte // the whole input, to check declared lengths before reading
	budget int    // elements all containers may still claim
	// str is data as one string; decoded strings are substrings of it, which
	// saves an allocation per string (and keeps the input alive while any
	// of them is).
	str string
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackDecoders = sync.Pool{New: func() any {
	d := &msgpackDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// getDecoder returns a pooled decoder reading data. Call finish when done.
func getDecoder(data []byte) *msgpackDecoder {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.data, d.str, d.budget = data, "", len(data)
	d.r.Reset(data)
	d.dec.ResetReader(&d.r)
	return d
}

// finish returns d to the pool, without its input, and returns the error
// of a decode that ended with err: err itself, or an error for input left
// over after a complete value, wrapping ErrCorrupt.
func (d *msgpackDecoder) finish(err error) error {
	if err == nil && d.r.Len() != 0 {
		err = fmt.Errorf("%d trailing bytes", d.r.Len())
	}
	d.data, d.str = nil, ""
	d.r.Reset(nil)
	msgpackDecoders.Put(d)
	if err != nil {
		return fmt.Errorf("%w: msgpack: %v", ErrCorrupt, err)
	}
	return nil
}

// Encode implements Codec.
func (MsgpackCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	e := getEncoder(dst)
	defer e.release()
	if err := e.enc.EncodeMapLen(len(values)); err != nil {
		return dst, err
	}
	for k, v := range values {
		if err := e.encodeEntry(k, v); err != nil {
			return dst, err
		}
	}
	return e.w.b, nil
}

// encodeEntry encodes one key of the session map and its value.
func (e *msgpackEncoder) encodeEntry(k string, v any) error {
	if err := e.enc.EncodeString(k); err != nil {
		return err
	}
	if err := e.encodeValue(v, 0); err != nil {
		return fmt.Errorf("key %q: %w", k, err)
	}
	return nil
}

// encodeValue encodes v, which sits inside depth containers below the
// session map (the same count normalize and the decoder use).
func (e *msgpackEncoder) encodeValue(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return e.enc.EncodeNil()
	case bool:
		return e.enc.EncodeBool(x)
	case int64:
		return e.enc.EncodeInt(x)
	case uint64:
		return e.enc.EncodeUint(x)
	case float64:
		return e.enc.EncodeFloat64(x)
	case string:
		return e.enc.EncodeString(x)
	case []byte:
		return e.enc.EncodeBytes(x)
	case time.Time:
		return e.enc.EncodeTime(x)
	case []any:
		if err := e.enc.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, el := range x {
			if err := e.encodeValue(el, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := e.enc.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for k, el := range x {
			if err := e.enc.EncodeString(k); err != nil {
				return err
			}
			if err := e.encodeValue(el, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	// Not a model type: the caller bypassed Session.Set. Normalize it the way
	// Set would have.
	n, err := normalizeDepth(v, depth)
	if err != nil {
		return err
	}
	return e.encodeValue(n, depth)
}

// Decode implements Codec.
func (MsgpackCodec) Decode(data []byte) (map[string]any, error) {
	v, err := decodeMsgpack(data, true, 0)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// Merge implements Merger. It walks the encoded map without building its
// values: untouched entries are copied byte for byte, so their cost is a
// scan and a copy, not a decode and an encode.
func (MsgpackCodec) Merge(dst, encoded []byte, values map[string]any, changed map[string]struct{}) ([]byte, error) {
	set := 0
	for k := range changed {
		if _, ok := values[k]; ok {
			set++
		}
	}
	return spliceMsgpack(dst, encoded, set,
		func(key []byte) bool { _, ok := changed[string(key)]; return ok },
		func(dst []byte) ([]byte, error) {
			e := getEncoder(dst)
			defer e.release()
			for k := range changed {
				if v, ok := values[k]; ok {
					if err := e.encodeEntry(k, v); err != nil {
						return dst, err
					}
				}
			}
			return e.w.b, nil
		})
}

// mapLen reads a map header and claims its entries from the budget. The
// msgpack decoder would also take an extension header before the map, a
// form this package never writes and the index pass refuses.
func (d *msgpackDecoder) mapLen() (int, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if !msgpcode.IsFixedMap(c) && c != msgpcode.Map16 && c != msgpcode.Map32 {
		return 0, fmt.Errorf("code 0x%02x at offset %d, want a map", c, d.pos())
	}
	n, err := d.dec.DecodeMapLen()
	if err == nil {
		err = d.claim(n, 2) // a key and a value
	}
	return n, err
}

// arrayLen reads an array header and claims its elements from the budget.
func (d *msgpackDecoder) arrayLen() (int, error) {
	n, err := d.dec.DecodeArrayLen()
	if err == nil {
		err = d.claim(n, 1)
	}
	return n, err
}

// skipKey moves past the map key at the current position, which must be a
// string, and returns where its bytes lie in d.data.
func (d *msgpackDecoder) skipKey() (start, n int, err error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return 0, 0, err
	}
	if !msgpcode.IsString(c) {
		return 0, 0, fmt.Errorf("map key of type 0x%02x, want string", c)
	}
	return d.skipPayload(c)
}

// skipPayload moves past the string, binary or extension value with code c
// at the current position and returns where its payload lies in d.data.
func (d *msgpackDecoder) skipPayload(c byte) (start, n int, err error) {
	start, n, err = d.checkPayload(c)
	if err == nil {
		err = d.seek(start + n)
	}
	return start, n, err
}

// stringAt returns d.data[start:start+n] as a substring of d.str.
func (d *msgpackDecoder) stringAt(start, n int) string {
	if d.str == "" {
		d.str = string(d.data)
	}
	return d.str[start : start+n]
}

// pos is the offset of the next byte to decode.
func (d *msgpackDecoder) pos() int { return len(d.data) - d.r.Len() }

// seek moves the decoder to offset off of the input.
func (d *msgpackDecoder) seek(off int) error {
	if off > len(d.data) {
		return io.ErrUnexpectedEOF
	}
	_, err := d.r.Seek(int64(off), io.SeekStart)
	return err
}

// decodeMsgpackValue decodes one msgpack value of any model type that sits
// inside depth containers.
func decodeMsgpackValue(data []byte, depth int) (any, error) {
	return decodeMsgpack(data, false, depth)
}

func decodeMsgpack(data []byte, wantMap bool, depth int) (v any, err error) {
	d := getDecoder(data)
	if wantMap {
		v, err = d.decodeMap(depth)
	} else {
		v, err = d.decodeValue(depth)
	}
	if err := d.finish(err); err != nil {
		return nil, err
	}
	return v, nil
}

var errTooDeep = fmt.Errorf("%w: nested deeper than %d levels", ErrUnsupportedValue, maxDepth)

// maxPrealloc caps what a container header can make the decoder allocate
// before its elements are actually read.
const maxPrealloc = 64

// claim takes n elements of at least size bytes each from the decode-wide
// budget. Every element takes at least one byte of input, so all the
// containers of a valid input together claim no more than its length: a
// hostile header claiming two billion entries, or a chain of nested headers
// each claiming all that is left, is refused before anything is allocated
// for it.
func (d *msgpackDecoder) claim(n, size int) error {
	if n < 0 || n > d.budget/size {
		return fmt.Errorf("containers claim more elements than %d bytes hold", len(d.data))
	}
	d.budget -= n * size
	return nil
}

// decodeMap decodes a map whose values sit inside depth containers.
func (d *msgpackDecoder) decodeMap(depth int) (map[string]any, error) {
	n, err := d.mapLen()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, min(n, maxPrealloc))
	for range n {
		ks, kn, err := d.skipKey()
		if err != nil {
			return nil, err
		}
		v, err := d.decodeValue(depth)
		if err != nil {
			return nil, err
		}
		m[d.stringAt(ks, kn)] = v
	}
	return m, nil
}

func (d *msgpackDecoder) decodeValue(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Nil:
		return nil, d.dec.DecodeNil()
	case c == msgpcode.False || c == msgpcode.True:
		return d.dec.DecodeBool()
	case msgpcode.IsFixedNum(c), c >= msgpcode.Int8 && c <= msgpcode.Int64:
		return d.dec.DecodeInt64()
	case c >= msgpcode.Uint8 && c <= msgpcode.Uint64:
		u, err := d.dec.DecodeUint64()
		if err != nil {
			return nil, err
		}
		return normalizeUint(u), nil
	case c == msgpcode.Float || c == msgpcode.Double:
		return d.dec.DecodeFloat64()
	case msgpcode.IsString(c):
		start, n, err := d.skipPayload(c)
		if err != nil {
			return nil, err
		}
		return d.stringAt(start, n), nil
	case msgpcode.IsBin(c):
		if _, _, err := d.checkPayload(c); err != nil {
			return nil, err
		}
		b, err := d.dec.DecodeBytes()
		if b == nil && err == nil {
			b = []byte{}
		}
		return b, err
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := d.arrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, 0, min(n, maxPrealloc))
		for range n {
			v, err := d.decodeValue(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return d.decodeMap(depth + 1)
	case msgpcode.IsExt(c):
		if _, _, err := d.checkPayload(c); err != nil {
			return nil, err
		}
		t, err := d.dec.DecodeTime()
		if err != nil {
			return nil, err
		}
		return t.UTC(), nil
	}
	return nil, fmt.Errorf("unexpected code 0x%02x", c)
}

// checkPayload verifies, before the msgpack decoder allocates anything, that
// the string, binary or extension value starting at the current position
// (with code c) fits in what is left of the input, and that an extension is
// a timestamp; msgpack would otherwise allocate whatever length a hostile
// header claims. It returns where the payload starts in d.data and its
// length.
func (d *msgpackDecoder) checkPayload(c byte) (start, n int, err error) {
	pos := d.pos()
	hdr := d.data[pos+1:] // after the code byte
	var size int          // bytes of the length field
	switch {
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8 || c == msgpcode.Bin8 || c == msgpcode.Ext8:
		size = 1
	case c == msgpcode.Str16 || c == msgpcode.Bin16 || c == msgpcode.Ext16:
		size = 2
	case c == msgpcode.Str32 || c == msgpcode.Bin32 || c == msgpcode.Ext32:
		size = 4
	case c >= msgpcode.FixExt1 && c <= msgpcode.FixExt16:
		n = 1 << (c - msgpcode.FixExt1)
	}
	if len(hdr) < size {
		return 0, 0, fmt.Errorf("truncated length at offset %d", pos)
	}
	for _, b := range hdr[:size] {
		n = n<<8 | int(b)
	}
	hdr = hdr[size:]
	if msgpcode.IsExt(c) {
		// One type byte, then a 4, 8 or 12 byte timestamp.
		if len(hdr) < 1 || int8(hdr[0]) != -1 || (n != 4 && n != 8 && n != 12) {
			return 0, 0, fmt.Errorf("unsupported extension at offset %d", pos)
		}
		hdr = hdr[1:]
	}
	if n > len(hdr) {
		return 0, 0, fmt.Errorf("value of %d bytes at offset %d, only %d left", n, pos, len(hdr))
	}
	return len(d.data) - len(hdr), n, nil
}

// JSONCodec encodes sessions as JSON objects for interoperability with
// programs in other languages. JSON has fewer types than the session model:
// after a reload, numbers without a fraction or exponent come back as int64
// (uint64 above math.MaxInt64), other numbers as float64, []byte as its
// base64 string, and time.Time as its RFC 3339 string. Use GetTime or GetAs to
// read such values back; use MsgpackCodec when exact types matter.
type JSONCodec struct{}

var _ Codec = JSONCodec{}

// Encode implements Codec.
func (JSONCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	b, err := json.Marshal(values)
	if err != nil {
		return dst, fmt.Errorf("%w: json: %v", ErrUnsupportedValue, err)
	}
	return append(dst, b...), nil
}

// Decode implements Codec.
func (JSONCodec) Decode(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: json: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: json: trailing data", ErrCorrupt)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: json: not an object", ErrCorrupt)
	}
	if err := jsonNumbers(m, 0); err != nil {
		return nil, fmt.Errorf("%w: json: %v", ErrCorrupt, err)
	}
	return m, nil
}

// jsonNumbers replaces every json.Number in v, in place, by int64, uint64 or
// float64.
func jsonNumbers(v any, depth int) error {
	if depth > maxDepth+1 {
		return errTooDeep
	}
	fix := func(e any) (any, error) {
		if n, ok := e.(json.Number); ok {
			return jsonNumber(n)
		}
		return e, jsonNumbers(e, depth+1)
	}
	var err error
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if x[k], err = fix(e); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if x[i], err = fix(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonNumber(n json.Number) (any, error) {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %q out of range", s)
	}
	return f, nil
}
