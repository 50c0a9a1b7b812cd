package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sessionkv/session"
)

// damageError reports what is wrong with a damaged database file. It wraps
// session.ErrCorrupt.
type damageError struct{ reason string }

func (e *damageError) Error() string { return "damaged database file: " + e.reason }
func (e *damageError) Unwrap() error { return session.ErrCorrupt }

// asDamage turns a problem found in the file into a *damageError, and
// leaves read failures (a bad disk, a vanished file) as they are.
func asDamage(err error) error {
	var ioErr *errIO
	if err == nil || errors.As(err, &ioErr) {
		return err
	}
	return &damageError{err.Error()}
}

// verifyFile checks the structure of the bbolt file r of size bytes,
// reading each page in use once with ReadAt, and returns the meta page that
// bbolt will use. It fails, with a *damageError, on anything that would
// make bbolt panic, fault or loop when it opens the file (its freelist
// rebuild walks every tree) or later reads it: the meta pages, then for
// every page reachable from the root bucket, nested buckets included, what
// Tx.page, tx_check's recursivelyCheckBucket and key-order checks, and the
// freelist reader assert or assume. See parseElements for the checks of a
// page's content.
//
// A file that passes can still hold values that are not valid records:
// the store treats those as missing.
func verifyFile(r io.ReaderAt, size int64) (metaChoice, error) {
	c, err := chooseMeta(r, size)
	if err != nil {
		return c, asDamage(err)
	}
	v := &verifier{pageReader: newPageReader(r, c)}
	v.claim(0)
	v.claim(1)
	var freelist []byte
	if c.freelist != noFreelist {
		// Claimed before the trees, so that no tree can use it; its
		// content is checked after them.
		p, _, err := v.read(c.freelist, 0, isFreelistPage)
		if err != nil {
			return c, asDamage(fmt.Errorf("freelist: %w", err))
		}
		freelist = bytes.Clone(p)
	}
	if err := v.tree(c.root, nil, nil, 0, "", true); err != nil {
		return c, asDamage(err)
	}
	if freelist != nil {
		if err := v.freelist(c.freelist, freelist); err != nil {
			return c, asDamage(err)
		}
	}
	return c, nil
}

// verifier walks a file's trees for verifyFile.
type verifier struct {
	*pageReader
	elems [][]element // a scratch slice per depth
}

func (v *verifier) scratch(depth int) []element {
	for len(v.elems) <= depth {
		v.elems = append(v.elems, nil)
	}
	return v.elems[depth][:0]
}

// tree checks the subtree at page id of the bucket named bucket ("" for the
// root bucket, whose entries must all be buckets) and the buckets nested
// in it; its keys must lie in [lo, hi).
func (v *verifier) tree(id uint64, lo, hi []byte, depth int, bucket string, top bool) error {
	p, h, err := v.read(id, depth, isTreePage)
	if err != nil {
		return inBucket(bucket, err)
	}
	els, err := parseElements(p, h, lo, hi, v.scratch(depth))
	v.elems[depth] = els
	if err != nil {
		return inBucket(bucket, fmt.Errorf("page %d: %w", id, err))
	}
	if h.flags == branchPageFlag {
		for i, e := range els {
			next := hi
			if i+1 < len(els) {
				next = els[i+1].key
			}
			if err := v.tree(e.child, e.key, next, depth+1, bucket, top); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range els {
		if top && !e.bucket {
			return inBucket(bucket, fmt.Errorf("page %d: key %s is not a bucket", id, quoteKey(e.key)))
		}
		if e.bucket {
			if err := v.bucket(e.value, depth+1, nested(bucket, e.key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucket checks the nested bucket whose value is value.
func (v *verifier) bucket(value []byte, depth int, name string) error {
	root, inline, h, err := parseBucket(value)
	if err != nil {
		return inBucket(name, err)
	}
	if inline == nil {
		return v.tree(root, nil, nil, depth, name, false)
	}
	// bbolt inlines a bucket of at most a quarter page that holds no
	// bucket; a larger one, or one holding buckets, is damage.
	if len(value) > v.pageSize {
		return inBucket(name, fmt.Errorf("inline bucket of %d bytes, more than a page", len(value)))
	}
	els, err := parseElements(inline, h, nil, nil, v.scratch(depth))
	v.elems[depth] = els
	if err != nil {
		return inBucket(name, fmt.Errorf("inline page: %w", err))
	}
	for _, e := range els {
		if e.bucket {
			return inBucket(name, fmt.Errorf("inline page: key %s is a bucket", quoteKey(e.key)))
		}
	}
	return nil
}

// freelist checks the freelist page p (page id, read and claimed before the
// trees) once the trees have claimed their pages: bbolt's reader trusts its
// count, and hands its pages out for writing, so each listed page must be
// inside the page, in use range, listed once and in no tree.
func (v *verifier) freelist(id uint64, p []byte) error {
	h := parseHeader(p)
	start, n := pageHeaderSize, uint64(h.count)
	if h.count == 0xFFFF { // the count overflowed into the first element
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("freelist page %d: no room for its count", id)
		}
		n = order.Uint64(p[pageHeaderSize:])
		start += 8
	}
	if n > uint64(len(p)-start)/8 {
		return fmt.Errorf("freelist page %d: %d page ids do not fit in %d bytes", id, n, len(p))
	}
	listed := make([]uint64, len(v.claimed))
	for i := range int(n) {
		free := order.Uint64(p[start+8*i:])
		switch {
		case free < 2 || free >= v.hwm:
			return fmt.Errorf("freelist page %d: lists page %d, not one of the %d pages in use", id, free, v.hwm)
		case v.isClaimed(free):
			return fmt.Errorf("freelist page %d: lists page %d, which is in use", id, free)
		case listed[free/64]&(1<<(free%64)) != 0:
			return fmt.Errorf("freelist page %d: lists page %d twice", id, free)
		}
		listed[free/64] |= 1 << (free % 64)
	}
	return nil
}

// inBucket says in which bucket a problem is.
func inBucket(bucket string, err error) error {
	if bucket == "" {
		return fmt.Errorf("root bucket: %w", err)
	}
	return fmt.Errorf("bucket %s: %w", bucket, err)
}

// nested names the bucket key inside parent, for messages.
func nested(parent string, key []byte) string {
	if parent == "" {
		return quoteKey(key)
	}
	return parent + "/" + quoteKey(key)
}

// quoteKey quotes a key for a message, shortened if long.
func quoteKey(k []byte) string {
	if len(k) > 80 {
		return strconv.Quote(string(k[:80])) + "..."
	}
	return strconv.Quote(string(k))
}
