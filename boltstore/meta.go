package boltstore

import (
	"errors"
	"fmt"
	"io"
)

// metaChoice is the meta page bbolt will use for a file.
type metaChoice struct {
	meta
	pageSize int
	page     int   // 0 or 1: the meta page in use
	other    error // why the other meta page is not used, when it is invalid
}

// chooseMeta picks the meta page of the file r of size bytes exactly as
// bbolt does when it opens it (DB.getPageSize, then DB.meta: the valid
// meta with the higher transaction id), and checks what the rest of the
// verification relies on: a sane page size, both meta pages inside the
// file, the root and freelist pages below the high-water mark, and no
// page in use past the end of the file (a truncated file).
func chooseMeta(r io.ReaderAt, size int64) (metaChoice, error) {
	pageSize, err := pageSizeOf(r, size)
	if err != nil {
		return metaChoice{}, err
	}
	if pageSize < minPageSize || pageSize > maxPageSize {
		return metaChoice{}, fmt.Errorf("meta page gives a page size of %d bytes", pageSize)
	}
	if size < 2*int64(pageSize) {
		return metaChoice{}, fmt.Errorf("the file's %d bytes do not hold its two %d-byte meta pages", size, pageSize)
	}
	var (
		metas [2]meta
		txids [2]uint64
		errs  [2]error
	)
	buf := make([]byte, pageHeaderSize+metaSize)
	for i := range 2 {
		n, err := r.ReadAt(buf, int64(i*pageSize))
		if n < len(buf) {
			return metaChoice{}, &errIO{fmt.Errorf("meta page %d: %w", i, err)}
		}
		metas[i], txids[i], errs[i] = parseMeta(buf[pageHeaderSize:])
	}
	first, second := 0, 1
	if txids[1] > txids[0] {
		first, second = 1, 0
	}
	c := metaChoice{pageSize: pageSize}
	switch {
	case errs[first] == nil:
		c.meta, c.page, c.other = metas[first], first, errs[second]
	case errs[second] == nil:
		c.meta, c.page, c.other = metas[second], second, errs[first]
	default:
		return metaChoice{}, fmt.Errorf("both meta pages are invalid (page 0: %v; page 1: %v)", errs[0], errs[1])
	}
	if c.other != nil {
		c.other = fmt.Errorf("meta page %d: %w", 1-c.page, c.other)
	}
	return c, c.check(size)
}

// check checks the chosen meta against the file.
func (c metaChoice) check(size int64) error {
	ps := uint64(c.pageSize)
	switch {
	case uint64(c.meta.pageSize) != ps:
		return fmt.Errorf("meta page %d gives a page size of %d, the file uses %d", c.page, c.meta.pageSize, ps)
	case c.hwm > uint64(size)/ps:
		return fmt.Errorf("the file is truncated: %d bytes, but its pages in use need %d", size, c.hwm*ps)
	case c.root < 2 || c.root >= c.hwm:
		return fmt.Errorf("meta page %d: root page %d is not one of the %d pages in use", c.page, c.root, c.hwm)
	case c.freelist != noFreelist && (c.freelist < 2 || c.freelist >= c.hwm):
		return fmt.Errorf("meta page %d: freelist page %d is not one of the %d pages in use", c.page, c.freelist, c.hwm)
	}
	return nil
}

// pageSizeOf finds the file's page size as bbolt's DB.getPageSize does:
// from the first meta page if it is valid (and the file holds 4 KiB),
// else from the first valid meta page found at 1 KiB, 2 KiB, ... 16 MiB.
func pageSizeOf(r io.ReaderAt, size int64) (int, error) {
	buf := make([]byte, 0x1000)
	var err0 error = errors.New("file shorter than 4096 bytes")
	if size >= int64(len(buf)) {
		n, err := r.ReadAt(buf, 0)
		if n < len(buf) {
			return 0, &errIO{fmt.Errorf("meta page 0: %w", err)}
		}
		m, _, err := parseMeta(buf[pageHeaderSize:])
		if err == nil {
			return int(m.pageSize), nil
		}
		err0 = err
	}
	for i := range 15 {
		pos := int64(1024) << i
		if pos >= size-1024 {
			break
		}
		n, err := r.ReadAt(buf, pos)
		if n < len(buf) && (!errors.Is(err, io.EOF) || int64(n) != size-pos) {
			return 0, &errIO{fmt.Errorf("meta page 1: %w", err)}
		}
		if m, _, err := parseMeta(buf[pageHeaderSize:n]); err == nil {
			return int(m.pageSize), nil
		}
	}
	return 0, fmt.Errorf("no valid meta page (page 0: %v; no valid page 1 found)", err0)
}
