package boltstore

import (
	"errors"
	"fmt"
	"io"
)

// maxSpan is the largest page (with its overflow pages) the verifier and
// the salvager read: a value of more than 256 MiB is taken for damage
// rather than allocated for.
const maxSpan = 256 << 20

// maxDepth bounds how deep the walk of a file's trees goes, B+tree levels
// and nested buckets together. A session store is about five deep.
const maxDepth = 64

// pageReader reads the pages of one bbolt file with ReadAt, never through a
// memory map, so nothing a damaged file holds can fault the process. It
// claims each page it hands out, so that no page is used twice: a walk of
// the file's trees, cycles included, reads each page at most once.
type pageReader struct {
	r        io.ReaderAt
	pageSize int
	hwm      uint64   // pages at and above it are not in use
	claimed  []uint64 // a bit per page below hwm
	bufs     [][]byte // a buffer per depth of the walk: a parent's page stays valid while its children are read
}

func newPageReader(r io.ReaderAt, c metaChoice) *pageReader {
	return &pageReader{
		r:        r,
		pageSize: c.pageSize,
		hwm:      c.hwm,
		claimed:  make([]uint64, (c.hwm+63)/64),
	}
}

func (pr *pageReader) isClaimed(id uint64) bool { return pr.claimed[id/64]&(1<<(id%64)) != 0 }

func (pr *pageReader) claim(id uint64) { pr.claimed[id/64] |= 1 << (id % 64) }

// errIO marks a read that failed for another reason than the file's
// content, so callers can tell a bad disk or a vanished file from damage.
type errIO struct{ err error }

func (e *errIO) Error() string { return e.err.Error() }
func (e *errIO) Unwrap() error { return e.err }

// read reads page id and its overflow pages into the buffer for depth and
// checks its header as bbolt's Tx.page and tx_check do, before anything
// else of it is trusted: the page lies below the high-water mark, names
// itself id, has the flags wanted, and none of its pages was reached
// before. It claims the pages and returns their bytes (valid until the next
// read at the same depth) and the header.
func (pr *pageReader) read(id uint64, depth int, want func(flags uint16) bool) ([]byte, pageHeader, error) {
	if depth >= maxDepth {
		return nil, pageHeader{}, fmt.Errorf("page %d: more than %d levels deep", id, maxDepth)
	}
	if id < 2 || id >= pr.hwm {
		return nil, pageHeader{}, fmt.Errorf("page %d: outside the pages in use (2 to %d)", id, pr.hwm-1)
	}
	if pr.isClaimed(id) {
		return nil, pageHeader{}, fmt.Errorf("page %d: reached twice", id)
	}
	for len(pr.bufs) <= depth {
		pr.bufs = append(pr.bufs, make([]byte, pr.pageSize))
	}
	buf := pr.bufs[depth][:pr.pageSize]
	if err := pr.readAt(buf, id); err != nil {
		return nil, pageHeader{}, err
	}
	h := parseHeader(buf)
	switch {
	case h.id != id:
		return nil, h, fmt.Errorf("page %d: header says page %d", id, h.id)
	case !want(h.flags):
		return nil, h, fmt.Errorf("page %d: unexpected page type (flags %#x)", id, h.flags)
	case uint64(h.overflow) >= pr.hwm-id:
		return nil, h, fmt.Errorf("page %d: %d overflow pages run past the pages in use", id, h.overflow)
	case (uint64(h.overflow)+1)*uint64(pr.pageSize) > maxSpan:
		return nil, h, fmt.Errorf("page %d: spans %d pages, more than %d bytes", id, h.overflow+1, maxSpan)
	}
	for i := uint64(1); i <= uint64(h.overflow); i++ {
		if pr.isClaimed(id + i) {
			return nil, h, fmt.Errorf("page %d: overflow page %d reached twice", id, id+i)
		}
	}
	if h.overflow > 0 {
		span := (int(h.overflow) + 1) * pr.pageSize
		if cap(pr.bufs[depth]) < span {
			grown := make([]byte, span)
			copy(grown, buf)
			pr.bufs[depth] = grown
		}
		buf = pr.bufs[depth][:span]
		if err := pr.readAt(buf[pr.pageSize:], id+1); err != nil {
			return nil, h, err
		}
	}
	for i := uint64(0); i <= uint64(h.overflow); i++ {
		pr.claim(id + i)
	}
	return buf, h, nil
}

// readAt fills buf from the start of page id.
func (pr *pageReader) readAt(buf []byte, id uint64) error {
	n, err := pr.r.ReadAt(buf, int64(id)*int64(pr.pageSize))
	switch {
	case n == len(buf):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return fmt.Errorf("page %d: the file ends inside it", id)
	default:
		return &errIO{fmt.Errorf("page %d: %w", id, err)}
	}
}

func isTreePage(flags uint16) bool { return flags == branchPageFlag || flags == leafPageFlag }

func isFreelistPage(flags uint16) bool { return flags == freelistPageFlag }
