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
// Writes (Save, Delete, Update) from concurrent goroutines share one bbolt
// write transaction and so one fsync: the first writer to arrive commits at
// once, with no waiting window, and the writers that arrive while it commits
// go together in the next transaction. A lone writer therefore pays what a
// plain bbolt Update costs, and many writers pay a fraction of it each.
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
// By default a Save, Delete or Update returns only after its transaction is
// fsynced: an acknowledged write survives kill -9 and power loss, and the
// file always opens in a consistent state (bbolt is copy-on-write with two
// meta pages). With Options.NoSync, commits are not fsynced: a crash of the
// process still loses nothing (the data is in the page cache), but a power
// loss or kernel crash can lose the writes of the last seconds (until the
// kernel flushes dirty pages) and, in rare cases, leave a file that bbolt
// refuses to open. The freelist is not synced (NoFreelistSync) in either
// mode; bbolt rebuilds it when the file is opened, which costs a scan of the
// file and loses nothing.
//
// # Caveats
//
// Deleting sessions does not shrink the file: bbolt reuses the free pages for
// new sessions. Shrink an idle file offline with bbolt's compaction (the
// sessionctl tool's compact command).
package boltstore
