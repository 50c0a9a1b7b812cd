package session

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// This file reads the structure of a msgpack-encoded session map without
// building its values: the validating pass that indexes a record when it
// is loaded (so values are decoded only when read), and the splice that
// writes a record from the bytes of the entries a request left alone plus
// the encoding of those it changed. It works on the byte slice directly,
// which costs a few nanoseconds per entry.

// rawEntry is one entry of an encoded session map, by offsets into the
// encoding: the entry starts with its key's header, the key's bytes run
// from key to val, and the value's from val to end. A session's index
// also keeps there whether the entry is still its key's value and where
// its decoded value is, once read. It holds no pointers, so a large index
// costs the garbage collector nothing to scan.
type rawEntry struct {
	start, key, val, end uint32
	// cached is 1 + the position of the decoded value among the index's
	// decoded values, or 0 while the value has not been read.
	cached uint32
	// dead: a Set or Delete since the load replaced the entry.
	dead bool
}

// keyLen is the length of the entry's key.
func (e *rawEntry) keyLen() int { return int(e.val - e.key) }

// maxIndexed is the largest encoding indexMsgpack takes, so that offsets
// fit rawEntry's fields.
const maxIndexed = math.MaxUint32

var errNotIndexable = errors.New("record too large to index")

// msgpackScanner walks an encoding, checking it as the decoder would: every
// code a model type, every declared length within the input, nesting within
// maxDepth, and all containers together claiming no more elements than the
// input has bytes (the decoder's budget).
type msgpackScanner struct {
	data   []byte
	pos    int
	budget int
}

func newScanner(data []byte) msgpackScanner {
	return msgpackScanner{data: data, budget: len(data)}
}

func (s *msgpackScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: msgpack: "+format, append([]any{ErrCorrupt}, args...)...)
}

// uint reads an n-byte big-endian unsigned integer at the current position.
func (s *msgpackScanner) uint(n int) (int, error) {
	if len(s.data)-s.pos < n {
		return 0, s.errorf("truncated at offset %d", s.pos)
	}
	v := 0
	for _, b := range s.data[s.pos : s.pos+n] {
		v = v<<8 | int(b)
	}
	s.pos += n
	return v, nil
}

// skip moves past n bytes of payload.
func (s *msgpackScanner) skip(n int) error {
	if n < 0 || n > len(s.data)-s.pos {
		return s.errorf("value of %d bytes at offset %d, only %d left", n, s.pos, len(s.data)-s.pos)
	}
	s.pos += n
	return nil
}

// claim takes n elements of at least size bytes each from the budget.
func (s *msgpackScanner) claim(n, size int) error {
	if n < 0 || n > s.budget/size {
		return s.errorf("containers claim more elements than %d bytes hold", len(s.data))
	}
	s.budget -= n * size
	return nil
}

// code reads the next code byte.
func (s *msgpackScanner) code() (byte, error) {
	if s.pos >= len(s.data) {
		return 0, s.errorf("unexpected end at offset %d", s.pos)
	}
	c := s.data[s.pos]
	s.pos++
	return c, nil
}

// mapLen reads a map header and claims its entries.
func (s *msgpackScanner) mapLen() (int, error) {
	c, err := s.code()
	if err != nil {
		return 0, err
	}
	var n int
	switch {
	case msgpcode.IsFixedMap(c):
		n = int(c & msgpcode.FixedMapMask)
	case c == msgpcode.Map16:
		n, err = s.uint(2)
	case c == msgpcode.Map32:
		n, err = s.uint(4)
	default:
		return 0, s.errorf("code 0x%02x at offset %d, want a map", c, s.pos-1)
	}
	if err == nil {
		err = s.claim(n, 2) // a key and a value
	}
	return n, err
}

// scalarSize is, for each code, the encoded size of a value whose code
// fixes it (numbers, nil, booleans, short strings), or 0.
var scalarSize = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		switch {
		case msgpcode.IsFixedNum(b), b == msgpcode.Nil, b == msgpcode.False, b == msgpcode.True:
			t[c] = 1
		case msgpcode.IsFixedString(b):
			t[c] = 1 + b&msgpcode.FixedStrMask
		case b == msgpcode.Int8, b == msgpcode.Uint8:
			t[c] = 2
		case b == msgpcode.Int16, b == msgpcode.Uint16:
			t[c] = 3
		case b == msgpcode.Int32, b == msgpcode.Uint32, b == msgpcode.Float:
			t[c] = 5
		case b == msgpcode.Int64, b == msgpcode.Uint64, b == msgpcode.Double:
			t[c] = 9
		}
	}
	return t
}()

// key moves past a map key, which must be a string, and returns where its
// bytes lie.
func (s *msgpackScanner) key() (start, end int, err error) {
	if s.pos < len(s.data) && msgpcode.IsFixedString(s.data[s.pos]) {
		start = s.pos + 1
		end = start + int(s.data[s.pos]&msgpcode.FixedStrMask)
		if end <= len(s.data) {
			s.pos = end
			return start, end, nil
		}
	}
	c, err := s.code()
	if err != nil {
		return 0, 0, err
	}
	var n int
	switch {
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8:
		n, err = s.uint(1)
	case c == msgpcode.Str16:
		n, err = s.uint(2)
	case c == msgpcode.Str32:
		n, err = s.uint(4)
	default:
		return 0, 0, s.errorf("map key of type 0x%02x, want string", c)
	}
	if err != nil {
		return 0, 0, err
	}
	start = s.pos
	return start, start + n, s.skip(n)
}

// value moves past one value sitting inside depth containers below the
// session map.
func (s *msgpackScanner) value(depth int) error {
	if depth <= maxDepth && s.pos < len(s.data) {
		// The common cases, inline: a scalar, or a string of up to 255 bytes.
		c := s.data[s.pos]
		if n := int(scalarSize[c]); n > 0 && n <= len(s.data)-s.pos {
			s.pos += n
			return nil
		}
		if c == msgpcode.Str8 && s.pos+1 < len(s.data) {
			if n := 2 + int(s.data[s.pos+1]); n <= len(s.data)-s.pos {
				s.pos += n
				return nil
			}
		}
	}
	return s.container(depth)
}

// container is value for everything but the common cases, and for their
// errors.
func (s *msgpackScanner) container(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	at := s.pos
	c, err := s.code()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Nil, c == msgpcode.False, c == msgpcode.True:
		return nil
	case c == msgpcode.Int8, c == msgpcode.Uint8:
		return s.skip(1)
	case c == msgpcode.Int16, c == msgpcode.Uint16:
		return s.skip(2)
	case c == msgpcode.Int32, c == msgpcode.Uint32, c == msgpcode.Float:
		return s.skip(4)
	case c == msgpcode.Int64, c == msgpcode.Uint64, c == msgpcode.Double:
		return s.skip(8)
	case msgpcode.IsFixedString(c):
		return s.skip(int(c & msgpcode.FixedStrMask))
	case c == msgpcode.Str8, c == msgpcode.Bin8:
		return s.payload(1)
	case c == msgpcode.Str16, c == msgpcode.Bin16:
		return s.payload(2)
	case c == msgpcode.Str32, c == msgpcode.Bin32:
		return s.payload(4)
	case c == msgpcode.FixExt4, c == msgpcode.FixExt8:
		return s.timestamp(at, 1<<(c-msgpcode.FixExt1))
	case c == msgpcode.Ext8, c == msgpcode.Ext16, c == msgpcode.Ext32:
		n, err := s.uint(1 << (c - msgpcode.Ext8))
		if err != nil {
			return err
		}
		return s.timestamp(at, n)
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n := int(c & msgpcode.FixedArrayMask)
		if c == msgpcode.Array16 {
			n, err = s.uint(2)
		} else if c == msgpcode.Array32 {
			n, err = s.uint(4)
		}
		if err == nil {
			err = s.claim(n, 1)
		}
		for i := 0; i < n && err == nil; i++ {
			err = s.value(depth + 1)
		}
		return err
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		s.pos = at
		n, err := s.mapLen()
		for i := 0; i < n && err == nil; i++ {
			if _, _, err = s.key(); err == nil {
				err = s.value(depth + 1)
			}
		}
		return err
	}
	return s.errorf("unexpected code 0x%02x at offset %d", c, at)
}

// payload moves past a length field of size bytes and the payload it
// declares.
func (s *msgpackScanner) payload(size int) error {
	n, err := s.uint(size)
	if err != nil {
		return err
	}
	return s.skip(n)
}

// timestamp moves past the type byte and n-byte payload of an extension
// value that started at offset at; the only extension of the model is the
// timestamp (type -1, 4, 8 or 12 bytes).
func (s *msgpackScanner) timestamp(at, n int) error {
	if s.pos >= len(s.data) || int8(s.data[s.pos]) != -1 || (n != 4 && n != 8 && n != 12) {
		return s.errorf("unsupported extension at offset %d", at)
	}
	s.pos++
	return s.skip(n)
}

// indexMsgpack checks that data is one encoded session map, nothing after
// it, and appends its entries to entries. Any malformation gives an error
// wrapping ErrCorrupt; a value nested too deep, one wrapping
// ErrUnsupportedValue as the decoder's does.
func indexMsgpack(entries []rawEntry, data []byte) ([]rawEntry, error) {
	if len(data) > maxIndexed {
		return entries, errNotIndexable
	}
	s := newScanner(data)
	n, err := s.mapLen()
	if err != nil {
		return entries, err
	}
	// n is bounded by len(data)/2; real entries are larger, so a hostile
	// header gets less room than it claims.
	entries = slices.Grow(entries, min(n, len(data)/8+16))
	for range n {
		// The common shapes inline: a key of up to 31 bytes, a scalar or
		// a string of up to 255 bytes; the scanner's methods otherwise.
		start, k, v := s.pos, 0, 0
		if p := s.pos; p < len(data) && msgpcode.IsFixedString(data[p]) && p+1+int(data[p]&msgpcode.FixedStrMask) <= len(data) {
			k, v = p+1, p+1+int(data[p]&msgpcode.FixedStrMask)
			s.pos = v
		} else if k, v, err = s.key(); err != nil {
			return entries, err
		}
		p := s.pos
		switch {
		case p >= len(data):
			return entries, s.errorf("unexpected end at offset %d", p)
		case int(scalarSize[data[p]]) > 0 && int(scalarSize[data[p]]) <= len(data)-p:
			s.pos += int(scalarSize[data[p]])
		case data[p] == msgpcode.Str8 && p+1 < len(data) && p+2+int(data[p+1]) <= len(data):
			s.pos += 2 + int(data[p+1])
		default:
			if err := s.value(0); err != nil {
				return entries, corruptDepth(err)
			}
		}
		entries = append(entries, rawEntry{start: uint32(start), key: uint32(k), val: uint32(v), end: uint32(s.pos)})
	}
	if s.pos != len(data) {
		return entries, s.errorf("%d trailing bytes", len(data)-s.pos)
	}
	return entries, nil
}

// corruptDepth makes a stored value nested too deep a corrupt record, as
// the decoder reports it.
func corruptDepth(err error) error {
	if errors.Is(err, errTooDeep) {
		return fmt.Errorf("%w: msgpack: %v", ErrCorrupt, err)
	}
	return err
}

// appendMapLen appends a msgpack map header for n entries.
func appendMapLen(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, msgpcode.FixedMapLow|byte(n))
	case n <= math.MaxUint16:
		return append(dst, msgpcode.Map16, byte(n>>8), byte(n))
	}
	return append(dst, msgpcode.Map32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendEntries appends the bytes in src of the entries that are not dead,
// copying each run of adjacent ones at once.
func appendEntries(dst, src []byte, entries []rawEntry) []byte {
	var runStart, runEnd uint32
	for i := range entries {
		e := &entries[i]
		if e.dead {
			continue
		}
		if e.start != runEnd {
			dst = append(dst, src[runStart:runEnd]...)
			runStart = e.start
		}
		runEnd = e.end
	}
	return append(dst, src[runStart:runEnd]...)
}
