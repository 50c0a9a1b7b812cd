package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session/boltstore"
)

var compactCommand = &command{
	name:     "compact",
	synopsis: "[--store bolt:PATH] [--json]",
	summary:  "rewrite a bbolt file to give freed space back",
	details: `
A bbolt file never shrinks: deleted and expired sessions leave free pages
that later writes reuse. compact copies the live data into a new file
next to the old one, then renames it over the old one, and prints the
space the file takes on disk before and after (a bbolt file is sparse:
its apparent size can be many times that). Run clearsessions first so that expired sessions
are not copied.

The store must be offline: compact holds the file's lock while it works
and fails at once if a server has the file open. Do not start a server on
the file until compact has finished. Run it as the user who owns the
store (the server's user, as in the example): the store's location is
refused to everyone else, root included. The new file keeps the old one's
permissions and owner. An interrupted run can leave a PATH.compact-*
file beside the store; remove it.`,
	example: `
systemctl stop app && sudo -u app sessionctl clearsessions --store bolt:/var/lib/app/sessions.db \
  && sudo -u app sessionctl compact --store bolt:/var/lib/app/sessions.db; systemctl start app`,
	run: runCompact,
}

// compactResult is the JSON output of compact.
type compactResult struct {
	Store  string `json:"store"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
}

// compactTxSize bounds each transaction of the copy, so memory use stays
// flat however large the file is.
const compactTxSize = 64 << 20

func runCompact(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	storeURL := storeFlag(fs)
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	spec, err := boltSpec(*storeURL, "compact")
	if err != nil {
		return err
	}
	o, err := a.openSpec(spec, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	st, ok := o.Store.(*boltstore.Store)
	if !ok {
		return fmt.Errorf("%s: not a bolt store", o.Spec)
	}
	res := compactResult{Store: o.Spec.String()}
	res.Before, res.After, err = a.compactFile(ctx, st.DB(), o.Spec.Path)
	if err != nil {
		return fmt.Errorf("compact %s: %w", o.Spec, err)
	}
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprintf(a.stdout, "compacted %s: %s -> %s\n", printable(res.Store), humanBytes(res.Before), humanBytes(res.After))
	return err
}

// compactFile copies src, the open database at path, into a new file and
// renames that over path. It returns the space the file takes on disk
// before and after.
func (a *app) compactFile(ctx context.Context, src *bbolt.DB, path string) (before, after int64, err error) {
	// Replace the file itself, not a symbolic link to it.
	if path, err = filepath.EvalSymlinks(path); err != nil {
		return 0, 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	// A new file of a name no one can guess or take first (O_EXCL), which
	// bbolt uses as it is: the store may sit in a sticky shared directory,
	// where another user could otherwise create the file bbolt opens by
	// name and keep a descriptor to the compacted sessions.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".compact-*")
	if err != nil {
		return 0, 0, err
	}
	tmp := f.Name()
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{
		Timeout:        a.lockWait,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
		OpenFile:       func(string, int, os.FileMode) (*os.File, error) { return f, nil },
	})
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	var bar *progress
	if a.progress {
		bar = a.counter("compacting", "keys", countKeys(src))
	}
	err = copyDB(ctx, dst, src, compactTxSize, bar.add)
	bar.finish()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = replaceFile(tmp, path, fi)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	nfi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return diskSize(fi), diskSize(nfi), nil
}

// replaceFile gives tmp the mode and owner of old, renames it to path and
// syncs the directory so that the rename survives a crash.
func replaceFile(tmp, path string, old os.FileInfo) error {
	if err := os.Chmod(tmp, old.Mode().Perm()); err != nil {
		return err
	}
	if err := chownLike(tmp, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// copyDB copies every bucket, nested bucket, bucket sequence and key of src
// into the empty dst, as bbolt.Compact does: pages filled completely, a
// commit every txMaxSize bytes so memory stays flat. It calls step(1) for
// each key copied, and stops with ctx's error as soon as ctx ends (Ctrl-C).
func copyDB(ctx context.Context, dst, src *bbolt.DB, txMaxSize int64, step func(int)) error {
	tx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	c := &copier{ctx: ctx, dst: dst, tx: tx, max: txMaxSize, step: step}
	defer func() { _ = c.tx.Rollback() }() // a no-op once committed
	err = src.View(func(stx *bbolt.Tx) error {
		return stx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return c.walk(b, nil, name, nil, b.Sequence())
		})
	})
	if err != nil {
		return err
	}
	return c.tx.Commit()
}

// copier holds the write transaction of copyDB.
type copier struct {
	ctx  context.Context
	dst  *bbolt.DB
	tx   *bbolt.Tx
	size int64 // bytes put in tx so far
	max  int64
	step func(int)
}

// walk copies k (a key of the bucket at path with value v, or, when v is
// nil, the bucket b) and, for a bucket, everything in it.
func (c *copier) walk(b *bbolt.Bucket, path [][]byte, k, v []byte, seq uint64) error {
	if err := c.put(path, k, v, seq); err != nil {
		return err
	}
	if v != nil {
		return nil
	}
	path = append(path, k)
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			sub := b.Bucket(k)
			return c.walk(sub, path, k, nil, sub.Sequence())
		}
		return c.walk(b, path, k, v, 0)
	})
}

// put writes k and v (or, when v is nil, a bucket k with sequence seq)
// into the bucket at path, committing first if the transaction is full.
// The slices point into src's read transaction, which outlives every
// transaction of dst, as bbolt requires of values put.
func (c *copier) put(path [][]byte, k, v []byte, seq uint64) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	sz := int64(len(k) + len(v))
	if c.max > 0 && c.size+sz > c.max {
		if err := c.tx.Commit(); err != nil {
			return err
		}
		tx, err := c.dst.Begin(true)
		if err != nil {
			return err
		}
		c.tx, c.size = tx, 0
	}
	c.size += sz
	if len(path) == 0 {
		nb, err := c.tx.CreateBucket(k)
		if err != nil {
			return err
		}
		return nb.SetSequence(seq)
	}
	b := c.tx.Bucket(path[0])
	for _, name := range path[1:] {
		b = b.Bucket(name)
	}
	b.FillPercent = 1.0
	if v == nil {
		nb, err := b.CreateBucket(k)
		if err != nil {
			return err
		}
		return nb.SetSequence(seq)
	}
	c.step(1)
	return b.Put(k, v)
}

// countKeys counts the keys of every bucket of db, nested ones included,
// for the progress bar.
func countKeys(db *bbolt.DB) int64 {
	var n int64
	_ = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error {
			n += int64(b.Stats().KeyN)
			return nil
		})
	})
	return n
}
