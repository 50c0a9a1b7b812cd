package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// bbolt's file format (go.etcd.io/bbolt/internal/common, version 2), which
// the verifier and the salvager read with ReadAt instead of through a
// memory map. Integers are in the machine's byte order, as bbolt writes
// them.
//
// A file is a sequence of pages of one size. Pages 0 and 1 are the two meta
// pages; every other page is a branch or leaf page of a B+tree, a
// freelist page, an overflow continuation of the page before it, or free.
// Each page starts with a header (id, flags, element count, overflow
// count), then an array of fixed-size elements, then the keys and values
// the elements point to.
const (
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elementSize      = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	metaSize         = 64 // magic u32, version u32, pageSize u32, flags u32, root bucket (16), freelist u64, pgid u64, txid u64, checksum u64
	bucketHeaderSize = 16 // a bucket's value: root page u64 (0 when inline), sequence u64

	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10

	bucketLeafFlag = 0x01 // a leaf element whose value is a nested bucket

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0) // the meta's freelist when it is not synced

	// minPageSize and maxPageSize bound the page sizes the verifier
	// accepts; bbolt itself looks for the second meta page up to 16 MiB.
	minPageSize = 512
	maxPageSize = 1 << 24
)

var order = binary.NativeEndian

// meta is the content of a meta page.
type meta struct {
	pageSize uint32
	root     uint64 // root bucket's root page
	freelist uint64 // freelist page, or noFreelist
	hwm      uint64 // high-water mark: every page in use is below it
	txid     uint64
}

// errMeta* say why a meta page is not valid, as bbolt's Meta.Validate does.
var (
	errMetaMagic    = errors.New("not a bbolt meta page")
	errMetaVersion  = errors.New("unsupported bbolt version")
	errMetaChecksum = errors.New("checksum mismatch")
)

// parseMeta decodes and validates the meta at the start of b (the bytes
// after a meta page's header), as bbolt's Meta.Validate does: magic,
// version, then checksum. txid is returned even for an invalid meta: bbolt
// compares the raw transaction ids when it picks one.
func parseMeta(b []byte) (m meta, txid uint64, err error) {
	if len(b) < metaSize {
		return meta{}, 0, io.ErrUnexpectedEOF
	}
	txid = order.Uint64(b[48:])
	switch {
	case order.Uint32(b[0:]) != boltMagic:
		return meta{}, txid, errMetaMagic
	case order.Uint32(b[4:]) != boltVersion:
		return meta{}, txid, errMetaVersion
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != order.Uint64(b[56:]) {
		return meta{}, txid, errMetaChecksum
	}
	return meta{
		pageSize: order.Uint32(b[8:]),
		root:     order.Uint64(b[16:]),
		freelist: order.Uint64(b[32:]),
		hwm:      order.Uint64(b[40:]),
		txid:     txid,
	}, txid, nil
}

// pageHeader is the header every page starts with.
type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func parseHeader(b []byte) pageHeader {
	return pageHeader{
		id:       order.Uint64(b),
		flags:    order.Uint16(b[8:]),
		count:    order.Uint16(b[10:]),
		overflow: order.Uint32(b[12:]),
	}
}

// element is one entry of a branch or leaf page; key and value are slices
// of the page.
type element struct {
	key    []byte
	value  []byte // leaf: the value, or the nested bucket's header and inline page
	child  uint64 // branch: the page holding keys from key up to the next element's
	bucket bool   // leaf: value is a nested bucket
}

// parseElements decodes the elements of the branch or leaf page p (header
// included, overflow pages appended) and checks that bbolt can use them
// without reading outside the page or tripping its assertions: the
// element array and every key and value lie inside p; keys are non-empty,
// strictly ascending and below hi (nil: no bound); a leaf element's flags
// are 0 or bucketLeafFlag; a branch page is not empty.
//
// lo is the key of the parent's element for the page, nil for the root of
// a bucket. The page's first key must be lo itself, not merely at least
// lo: bbolt keeps each branch key equal to its child's first key, and when
// it rewrites a child it looks the child's entry up in the parent by that
// key, so a page whose first key differs would make bbolt add a second
// entry for it and corrupt the tree it writes. Only a bucket's root page
// may be empty: bbolt removes other pages as they empty.
//
// It also requires what bbolt's writer always produces: each element's
// data follows the element array and the data of the element before it.
// That keeps the data of distinct elements disjoint, so the values of a
// page (and the inline buckets among them) add up to at most its size,
// which bounds the verifier's work by the size of the file.
func parseElements(p []byte, h pageHeader, lo, hi []byte, dst []element) ([]element, error) {
	n := int(h.count)
	dataStart := pageHeaderSize + n*elementSize
	if dataStart > len(p) {
		return dst, fmt.Errorf("%d elements do not fit in %d bytes", n, len(p))
	}
	branch := h.flags == branchPageFlag
	switch {
	case branch && n == 0:
		return dst, errors.New("empty branch page")
	case lo != nil && n == 0:
		return dst, errors.New("empty page below a branch")
	}
	next := uint64(dataStart) // where the next element's data may start
	var prev []byte
	for i := range n {
		off := pageHeaderSize + i*elementSize
		e := p[off : off+elementSize]
		var el element
		var pos, ksize, vsize uint64
		if branch {
			pos, ksize = uint64(order.Uint32(e)), uint64(order.Uint32(e[4:]))
			el.child = order.Uint64(e[8:])
		} else {
			flags := order.Uint32(e)
			if flags&^bucketLeafFlag != 0 {
				return dst, fmt.Errorf("element %d: unknown flags %#x", i, flags)
			}
			el.bucket = flags == bucketLeafFlag
			pos, ksize, vsize = uint64(order.Uint32(e[4:])), uint64(order.Uint32(e[8:])), uint64(order.Uint32(e[12:]))
		}
		start := uint64(off) + pos
		end := start + ksize + vsize
		switch {
		case ksize == 0:
			return dst, fmt.Errorf("element %d: empty key", i)
		case start < next:
			return dst, fmt.Errorf("element %d: data at offset %d overlaps the elements before it", i, start)
		case end > uint64(len(p)):
			return dst, fmt.Errorf("element %d: key and value (offset %d, %d bytes) run past the page's %d bytes", i, start, ksize+vsize, len(p))
		}
		el.key = p[start : start+ksize]
		if !branch {
			el.value = p[start+ksize : end]
		}
		next = end
		switch {
		case prev != nil && bytes.Compare(prev, el.key) >= 0:
			return dst, fmt.Errorf("element %d: keys out of order", i)
		case i == 0 && lo != nil && !bytes.Equal(el.key, lo):
			return dst, fmt.Errorf("element 0: key differs from the key its parent has for the page")
		case hi != nil && bytes.Compare(el.key, hi) >= 0:
			return dst, fmt.Errorf("element %d: key past the range its parent gives the page", i)
		}
		prev = el.key
		dst = append(dst, el)
	}
	return dst, nil
}

// parseBucket splits a nested bucket's value into its root page and, for
// an inline bucket (root 0), its inline page, checked as bbolt's reader
// needs it: a leaf page with id 0 and no overflow.
func parseBucket(v []byte) (root uint64, inline []byte, h pageHeader, err error) {
	if len(v) < bucketHeaderSize {
		return 0, nil, h, fmt.Errorf("bucket header of %d bytes", len(v))
	}
	root = order.Uint64(v)
	if root != 0 {
		return root, nil, h, nil
	}
	inline = v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		return 0, nil, h, fmt.Errorf("inline bucket of %d bytes", len(v))
	}
	h = parseHeader(inline)
	if h.id != 0 || h.flags != leafPageFlag || h.overflow != 0 {
		return 0, nil, h, fmt.Errorf("inline bucket page with id %d, flags %#x, overflow %d", h.id, h.flags, h.overflow)
	}
	return 0, inline, h, nil
}
