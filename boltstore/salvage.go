package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sessionkv/session"
)

// maxProblems bounds SalvageReport.Problems.
const maxProblems = 100

// SalvageReport says what Salvage recovered from a file and what it could
// not.
type SalvageReport struct {
	// Recovered is how many records were handed to fn: readable,
	// well-formed and unexpired.
	Recovered int
	// Expired is how many readable records were left out as expired.
	Expired int
	// DamagedPages is how many pages were skipped, each with everything
	// below it: pages that could not be read, were not what or where the
	// tree above them said, or were inconsistent.
	DamagedPages int
	// Malformed is how many entries of the sessions bucket were left out
	// because their stored value does not parse.
	Malformed int
	// Unlisted is how many well-formed records were left out because the
	// expiry index, read whole, does not list them under their expiry.
	// Every save lists its record there in the same transaction, so a
	// record the index does not know is not trusted: it may be a deleted
	// session that damage brought back into view.
	Unlisted int
	// Lost is how many sessions the expiry index lists as unexpired whose
	// record was not recovered.
	Lost int
	// IndexDamaged reports that the expiry index could not be read whole,
	// or is missing: Lost is then a lower bound, and records were not
	// checked against the index.
	IndexDamaged bool
	// Problems describes what was found damaged, a line for each skipped
	// page or damaged meta page, at most 100 lines.
	Problems []string
}

// Salvage reads the sessions that can still be read out of the database
// file at path, which may be damaged, without changing it, and calls fn
// with each readable, well-formed, unexpired record of the sessions bucket
// (opts.Bucket), in key order, from the calling goroutine; rec.Data is
// fn's to keep. Records come as Load returns them: Expires and UserID are
// those stored with the record. fn's error stops the salvage and is
// returned as it is, with the report so far. Salvage is what the sessionctl
// tool's salvage command copies from a damaged file into a new store.
//
// It walks the file's B+trees as bbolt would, from the meta page bbolt
// would use, reading each page once with ReadAt (no memory map, so damage
// cannot fault the process), and skips every page it cannot trust together
// with the pages below it. It never scans the file for pages that look
// like sessions: the pages of deleted sessions stay in the file until
// reused, and a scan would bring them back. For the same reason, when the
// expiry index is intact, a record it does not list is left out (see
// SalvageReport.Unlisted).
//
// Salvage fails with an error wrapping session.ErrCorrupt when it cannot
// start: both meta pages are damaged, or the root of the file is, so that
// the sessions bucket cannot be found. It waits opts.Timeout for a process
// that has the file open (a running server) and then fails with ErrLocked.
// An empty file holds no sessions.
func Salvage(ctx context.Context, path string, opts *Options, fn func(key string, rec session.Record) error) (SalvageReport, error) {
	o := opts.withDefaults()
	var rep SalvageReport
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("boltstore: salvage %s: %w", path, err)
	}
	defer f.Close()
	if err := lockFile(f, false, o.Timeout); err != nil {
		return rep, lockError("salvage", path, o, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return rep, fmt.Errorf("boltstore: salvage %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return rep, nil
	}
	c, err := chooseMeta(f, fi.Size())
	if err != nil {
		return rep, fmt.Errorf("boltstore: salvage %s: %w", path, asDamage(err))
	}
	sv := &salvager{pageReader: newPageReader(f, c), rep: &rep}
	sv.claim(0)
	sv.claim(1)
	if c.other != nil {
		sv.note(c.other)
	}
	err = sv.run(ctx, c.root, o, fn)
	var fe *fnError
	switch {
	case errors.As(err, &fe):
		return rep, fe.err
	case err != nil:
		return rep, fmt.Errorf("boltstore: salvage %s: %w", path, err)
	}
	return rep, nil
}

// salvager walks a damaged file for Salvage.
type salvager struct {
	*pageReader
	elems [][]element // a scratch slice per depth
	rep   *SalvageReport
}

// listing is an entry of the expiry index, by store key.
type listing struct {
	slot  uint64 // the time slot it is listed under
	twice bool   // listed under more than one slot
	read  bool   // its record was read, expired or not
}

// run finds the sessions bucket and its expiry index in the root bucket at
// page root, reads the index whole, then hands the records to fn.
func (sv *salvager) run(ctx context.Context, root uint64, o Options, fn func(string, session.Record) error) error {
	recordsName, indexName := o.Bucket, o.Bucket+".expiry"
	var records, index []byte
	err := sv.tree(ctx, root, nil, nil, 0, "", func(els []element) error {
		for _, e := range els {
			switch {
			case !e.bucket:
			case string(e.key) == recordsName:
				records = bytes.Clone(e.value)
			case string(e.key) == indexName:
				index = bytes.Clone(e.value)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if records == nil {
		if sv.rep.DamagedPages > 0 {
			return &damageError{fmt.Sprintf("bucket %q not found, and the root bucket is damaged (%s)", recordsName, sv.rep.Problems[len(sv.rep.Problems)-1])}
		}
		return fmt.Errorf("no bucket %q", recordsName)
	}

	listed := map[string]*listing{}
	before := sv.rep.DamagedPages
	if index != nil {
		err := sv.bucket(ctx, index, 1, quoteKey([]byte(indexName)), func(els []element) error {
			for _, e := range els {
				if e.bucket || len(e.key) <= 8 {
					continue
				}
				slot := binary.BigEndian.Uint64(e.key)
				if l := listed[string(e.key[8:])]; l != nil {
					l.twice = l.twice || l.slot != slot
					continue
				}
				listed[string(e.key[8:])] = &listing{slot: slot}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sv.rep.IndexDamaged = index == nil || sv.rep.DamagedPages > before

	now := o.Now()
	err = sv.bucket(ctx, records, 1, quoteKey([]byte(recordsName)), func(els []element) error {
		for _, e := range els {
			if err := sv.record(e, listed, now, fn); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range listed {
		// A slot that ended before now lists a session that had expired.
		if !l.read && l.slot+uint64(indexGranularity) > uint64(now.UnixNano()) {
			sv.rep.Lost++
		}
	}
	return nil
}

// record hands the record of leaf element e to fn if it can be trusted and
// has not expired, and counts it.
func (sv *salvager) record(e element, listed map[string]*listing, now time.Time, fn func(string, session.Record) error) error {
	if e.bucket {
		return nil
	}
	v, ok := parseValue(e.value)
	if !ok {
		sv.rep.Malformed++
		return nil
	}
	key := string(e.key)
	l := listed[key]
	if !sv.rep.IndexDamaged && (l == nil || (!l.twice && l.slot != slot(v.expires))) {
		sv.rep.Unlisted++
		return nil
	}
	if l != nil {
		// Read, so not lost, even when the damaged index is not trusted.
		l.read = true
	}
	rec := session.Record{Expires: time.Unix(0, int64(v.expires)), UserID: string(v.userID)}
	if rec.Expired(now) {
		sv.rep.Expired++
		return nil
	}
	rec.Data = bytes.Clone(v.data)
	if err := fn(key, rec); err != nil {
		return &fnError{err}
	}
	sv.rep.Recovered++
	return nil
}

func (sv *salvager) scratch(depth int) []element {
	for len(sv.elems) <= depth {
		sv.elems = append(sv.elems, nil)
	}
	return sv.elems[depth][:0]
}

// note records a problem found.
func (sv *salvager) note(err error) {
	if len(sv.rep.Problems) < maxProblems {
		sv.rep.Problems = append(sv.rep.Problems, err.Error())
	}
}

// skip records a page skipped for err.
func (sv *salvager) skip(bucket string, err error) {
	sv.rep.DamagedPages++
	sv.note(inBucket(bucket, err))
}

// tree calls leaf with the elements of each leaf page of the subtree at
// page id, in key order, skipping (and counting) every page that fails the
// verifier's checks, with its subtree. Keys must lie in [lo, hi): a page
// that a damaged pointer makes the tree reach out of place fails that. It
// returns only ctx's and leaf's errors.
func (sv *salvager) tree(ctx context.Context, id uint64, lo, hi []byte, depth int, bucket string, leaf func([]element) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, h, err := sv.read(id, depth, isTreePage)
	if err != nil {
		sv.skip(bucket, err)
		return nil
	}
	els, err := parseElements(p, h, lo, hi, sv.scratch(depth))
	sv.elems[depth] = els
	if err != nil {
		sv.skip(bucket, fmt.Errorf("page %d: %w", id, err))
		return nil
	}
	if h.flags == leafPageFlag {
		return leaf(els)
	}
	for i, e := range els {
		next := hi
		if i+1 < len(els) {
			next = els[i+1].key
		}
		if err := sv.tree(ctx, e.child, e.key, next, depth+1, bucket, leaf); err != nil {
			return err
		}
	}
	return nil
}

// bucket is tree for the nested bucket whose value is value, inline or
// not.
func (sv *salvager) bucket(ctx context.Context, value []byte, depth int, name string, leaf func([]element) error) error {
	root, inline, h, err := parseBucket(value)
	if err != nil {
		sv.skip(name, err)
		return nil
	}
	if inline == nil {
		return sv.tree(ctx, root, nil, nil, depth, name, leaf)
	}
	els, err := parseElements(inline, h, nil, nil, sv.scratch(depth))
	sv.elems[depth] = els
	if err != nil {
		sv.skip(name, fmt.Errorf("inline page: %w", err))
		return nil
	}
	return leaf(els)
}
