// Package filestore keeps one file per session in a directory, like
// Django's file session backend (SESSION_FILE_PATH), and is safe to share
// between several processes on the same machine.
//
// # Layout
//
// A store key (the hex SHA-256 that session.StoreKey derives from a session
// ID) names the file; the first two hex digits name one of 256 shard
// directories, so no directory grows past a fraction of the sessions:
//
//	<dir>/3f/3fa2…c9            a session: header + encoded data
//	<dir>/3f/.tmp-123456        a write in progress (or orphaned by a crash)
//	<dir>/.locks/3f.lock        the shard's lock file, never removed
//
// Only strings of exactly 64 lowercase hexadecimal characters are accepted
// as keys: any other key is refused with ErrInvalidKey before the file
// system is touched, so no path is ever built from client input and nothing
// is written outside dir. Each file starts with a small header (magic,
// version, expiry, data length and CRC-32C checksums); a file that is torn,
// truncated, empty, foreign or fails its checksum is treated as missing and
// logged as a warning, never decoded.
//
// Writes go to a temporary file in the shard directory, which is then
// renamed over the session file, so readers always see a whole version,
// old or new. Files are created 0600 and directories 0700.
// DeleteExpired (session.Sweeper) reads only headers; it removes expired
// sessions, temporary files older than Options.TempFileGrace, corrupt files
// as old as that, and shard directories left empty.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores, in one
// process or several, may share a directory. Load and Range take no lock:
// rename is atomic, so they see either the previous or the next version of
// a file. Save, Delete and Update take the shard's lock: an in-process
// mutex, then an exclusive flock(2) on the shard's lock file, which
// serializes them with every other process using the directory. Update's
// read-modify-write is therefore atomic across processes. DeleteExpired
// takes the same lock before removing anything and checks the header again
// under it, so a session rewritten meanwhile is kept. Waiting for a lock
// does not observe the context: a lock is held only for one file write, or
// for one batch of at most 128 removals by the sweeper.
//
// The lock files must stay where they are while any process uses the
// directory; removing the .locks directory breaks cross-process exclusion.
// flock(2) locks are not reliable on every network file system.
//
// # Durability
//
// By default (Options.NoSync false) Save, Update and Delete return only
// once the file and its directory entry have been fsynced. A crash of the
// process or of the machine (power cut included, on disks that honour
// fsync) then loses nothing that was acknowledged: every session file holds
// the version last acknowledged or, if a write was under way, that write's
// complete new version; a deleted session stays deleted. The only debris is
// temporary files, which the sweeper removes after the grace period. A
// write that fails before its rename (a full disk, a permission error)
// returns its error and leaves the previous version in place; if only the
// final fsync of the directory fails, the error is returned although the
// new version is in place, and a crash may bring back the previous one.
// Removals done by DeleteExpired are not synced: after a crash an expired
// session may be back on disk, still expired, so it is never loaded and the
// next sweep removes it again.
//
// With Options.NoSync, nothing is fsynced. A crash of the process alone
// still loses nothing, since the kernel holds the written data. A crash of
// the operating system or a power cut loses the writes and deletes the
// kernel had not yet written back (on Linux, typically those of the last
// 5 to 30 seconds): a session may come back in an older version, a new
// session may be missing, a logged-out session may be back, and a file may
// be empty or partly written; such files fail their checksum and load as
// missing.
package filestore
