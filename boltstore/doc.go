// Package boltstore keeps sessions in a bbolt database (go.etcd.io/bbolt),
// sessionkv's embedded default: one file, no server, durable by default.
//
// # Basics
//
// Open opens (or creates) a database file that the Store owns; New uses a
// *bbolt.DB the application already has, in buckets of its own (Options.Bucket),
// so several engines can share one file. Each record is stored under its
// store key with its expiry and owner in front of the data. A second bucket
// indexes the keys by expiry time (in one-minute slots), so DeleteExpired
// and RangeExpired seek straight to the expired range and cost O(expired),
// not O(all sessions); DeleteExpired deletes in transactions of at most
// Options.SweepBatch keys, so readers and writers never wait long. A third
// bucket indexes the keys by owner, written in the same transaction as the
// record, so UserKeys and DeleteUser cost O(that user's sessions).
//
// # Group commit
//
// Writes (Save, Delete, UpdateRecord) from concurrent goroutines share one
// bbolt write transaction and so one fsync: the first writer to arrive is
// committed at once, in a goroutine of the committer, with no waiting
// window, and the writers that arrive meanwhile go together in the next
// transaction. A lone writer therefore pays what a plain bbolt Update
// costs (and a goroutine hand-off), and many writers pay a fraction of it
// each. A writer whose context ends while it waits for its turn leaves at
// once and is not applied; one whose transaction has started waits for its
// outcome, so no write is running after its call has returned.
// (bbolt's own DB.Batch waits up to 10 ms to gather a batch, which caps a
// lone writer at about a hundred commits a second.) A function in a group
// may run more than once when another one in its group fails; the store's
// functions are idempotent.
//
// How much grouping gains depends on the disk. Session keys are random, so
// each session in a transaction dirties a B+tree leaf of its own (4 KiB)
// that the commit writes out, besides the two fsyncs every commit makes.
// Where fsync latency dominates, a group of 64 costs little more than one
// commit; where it is cheap, the pages written set the pace, and no group
// commit on bbolt can do better than one Update holding all the puts.
// BenchmarkCommit measures the store next to raw Update, raw Batch and that
// ideal group (raw-ideal-group), in the same run.
//
// # Concurrency
//
// A Store is safe for concurrent use. Reads run in bbolt read transactions
// in parallel with each other and with the writer.
//
// A bbolt file belongs to one process at a time: a second process that opens
// it waits Options.Timeout for the file lock, then fails with ErrLocked.
// Deployments with several processes on one host use the filestore package;
// several hosts use Redis.
//
// # Durability
//
// By default a Save, Delete or UpdateRecord returns only after its transaction is
// fsynced: an acknowledged write survives kill -9 and power loss, and the
// file always opens in a consistent state (bbolt is copy-on-write with two
// meta pages). With Options.NoSync, commits are not fsynced: a crash of the
// process still loses nothing (the data is in the page cache), but a power
// loss or kernel crash can lose the writes of the last seconds (until the
// kernel flushes dirty pages) and, in rare cases, leave a damaged file (see
// # Damaged files).
//
// The freelist (bbolt's list of free pages) is not synced
// (bbolt.Options.NoFreelistSync) in either mode; bbolt rebuilds it when
// the file is opened, by walking every tree, which loses nothing. Syncing
// it would make Open cheaper and every commit dearer once sessions have come
// and gone, since each commit then writes the whole list again: 8 bytes
// per free page. Measured on a 2-core VM, files in the page cache
// (BenchmarkOpen, BenchmarkCommit, and the same raw commit on a store of
// 100k sessions a third of which were deleted, leaving 15,200 free pages):
//
//	                            freelist not synced     synced
//	Open, 100k sessions         0.34 s                  0.12 s
//	Open, 1M sessions           2.8 s                   0.86 s
//	commit, new store           1.0 ms                  1.0 ms
//	commit, 15,200 free pages   1.5 ms                  2.6 ms
//	same with NoSync            0.14 ms                 0.94 ms
//
// Open's figures include the verification described below, 0.12 s and
// 0.86 s, which a synced freelist would not spare: the synced column is
// the verification plus bbolt's own open, under a millisecond. A process
// opens the file once and commits for as long as it runs, so the store
// keeps the freelist unsynced; there is then also no freelist page to be
// damaged.
//
// # Damaged files
//
// A file damaged on disk (a bad sector, pages zeroed or overwritten by
// something other than bbolt, a truncated copy) never crashes or hangs the
// process. Before bbolt maps the file, Open verifies it under bbolt's lock,
// reading each page in use once with ReadAt, never through a memory map:
// the meta page bbolt will use, then every page of every tree, nested
// buckets included, for what bbolt asserts or assumes when it reads them
// (each page where and what its parent says, reached once, with its keys
// and values inside it, its keys in order and in their parent's range, the
// first the very key the parent has for the page).
// A damaged file fails Open with an error wrapping session.ErrCorrupt that
// says what is wrong and where, and names the sessionctl commands that
// report the damage (check) and copy the sessions that can still be read
// into a new file (salvage). Check and Salvage are the same verification
// and walk, for those commands; Salvage never brings back a deleted
// session. Damage confined to the bytes of a record passes: the store
// treats such a record as missing and logs it. When only the newer meta
// page is damaged, bbolt opens the file as of the commit before, as after a
// crash during a commit, and Open logs a warning. New does not verify the
// database it is given; call Check on the file before opening it.
//
// Damage that appears while the store runs (another process truncating or
// overwriting the file) makes bbolt panic, or fault on a page past the end
// of the file. The store contains both: the call that meets the damage
// fails with an error wrapping session.ErrCorrupt and logs one line, and
// the store goes on serving what is intact. If bbolt panics in its own
// code rather than in the store's, while it begins a read transaction
// (the meta pages are gone) or while it commits a write (growing the
// memory map, say), it may keep its internal locks, so the store stops
// using the file: later calls fail at once, and Close leaves the file open
// and locked until the process exits.
// A goroutine already waiting inside bbolt at that moment may wait for
// good.
//
// # Caveats
//
// Deleting sessions does not shrink the file: bbolt reuses the free pages for
// new sessions. Shrink an idle file offline with bbolt's compaction (the
// sessionctl tool's compact command).
package boltstore
