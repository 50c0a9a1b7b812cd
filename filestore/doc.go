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
//	<dir>/3f/3fa2…c9          a session: header, user ID, encoded data
//	<dir>/3f/.tmp-123456      a write in progress (or orphaned by a crash)
//	<dir>/.locks/3f.lock      the shard's lock file, never removed
//	<dir>/.users/a7/a7c1…04   the index directory of the user whose ID
//	                          hashes to a7c1…04
//	<dir>/.users/a7/a7c1…04/3fa2…c9
//	                          an empty marker: session 3fa2…c9 belongs to
//	                          that user
//
// Only strings of exactly 64 lowercase hexadecimal characters are accepted
// as keys: any other key is refused with ErrInvalidKey before the file
// system is touched, so no path is ever built from client input and nothing
// is written outside dir. Each file starts with a small header (magic,
// version, user ID length, expiry, data length and CRC-32C checksums)
// followed by the owner's user ID (Record.UserID, at most 1 KiB); a file
// that is torn, truncated, empty, foreign, has a malformed user ID or fails
// a checksum is treated as missing and logged as a warning, never decoded.
//
// Writes go to a temporary file in the shard directory, which is then
// renamed over the session file, so readers always see a whole version,
// old or new. Files are created 0600 and directories 0700.
// DeleteExpired (session.Sweeper) reads only headers and user IDs; it
// removes expired sessions, temporary files older than
// Options.TempFileGrace, corrupt files as old as that, shard directories
// left empty, and stale entries of the user index (see below).
//
// # User index
//
// Store implements session.UserIndexer: UserKeys lists the sessions of one
// user and DeleteUser deletes them ("log out everywhere"), both in
// O(that user's sessions), without scanning the store. Each user with
// sessions has a directory named by the hex SHA-256 of the user ID (never by
// the ID itself, which is arbitrary text), under .users and its first two
// hex digits, holding one empty marker file per store key. The empty user
// ID means a session without an owner and is not indexed: UserKeys("")
// returns no keys and DeleteUser("") deletes nothing. A UserID longer than
// 1 KiB is refused by Save and UpdateRecord with session.ErrUserIDTooLong before anything
// is touched.
//
// The index keeps one invariant: whenever a session file holds user ID U,
// U's directory holds the marker of its key. The markers of a shard's keys
// are created and removed only under that shard's lock, which every change
// to the shard's session files holds too. Save and UpdateRecord create the new
// owner's marker (and, unless NoSync is set, fsync its directory) before
// the new record is renamed into place, and remove the previous owner's
// marker only after the rename. Delete, an UpdateRecord to an expired record,
// DeleteUser and the sweeper remove a session's marker only after removing
// the session. UserKeys, DeleteUser and the sweeper remove any other marker
// only after reading its record again under the lock and finding it gone,
// corrupt or owned by someone else. So the invariant holds at every
// instant, for every process sharing the directory, and a process killed
// at any point (or, with durable writes, a machine crash) leaves at worst
// stale markers: markers whose record is gone or belongs to another user.
// Markers are therefore only hints, always checked against the record.
//
// UserKeys lists the user's directory without a lock and reads the header
// and user ID of each marked record, which the header checksum covers; it
// returns a key only if its record exists, has not expired and holds the
// very user ID asked for (the ID is compared, not its hash). So it never
// returns a key whose record, when read, belonged to another user or had
// expired, stale markers or not; and it never misses a session that
// belongs to the user and stays live throughout the call, whatever process
// wrote it and even if writers were killed before (for machine crashes, see
// Durability). A session saved, moved to another owner or deleted during
// the call may or may not be listed. Stale markers it meets are removed on
// the way.
//
// DeleteUser lists the user's directory the same way and then, holding each
// shard's lock in turn, deletes the records that still belong to the user,
// expired ones included, and removes their markers and any stale ones;
// unless NoSync is set it fsyncs each shard directory before releasing its
// lock, as Delete does. It returns how many of the deleted records were
// live. Every session of the user that exists when DeleteUser starts, and
// is not moved to another owner meanwhile, is deleted; one saved for the
// user while it runs may survive it.
//
// Costs: UserKeys reads one directory and one header per marker of the user
// (live sessions, expired ones not yet swept, and stale markers not yet
// removed); DeleteUser adds two removals per session and one directory
// fsync per shard touched. Load and Range read the user ID with the header
// and do no index work. Save, UpdateRecord and Delete read the header of the
// file they replace, to learn its previous owner; giving a session a new
// owner creates a marker and fsyncs its directory, and removes the old
// owner's marker; saving a session again for the same owner costs one
// failed exclusive create. The sweeper removes the marker of each expired
// session it deletes, and restores the marker of any live session that
// lacks one (one stat per owned session); then it walks the index, reading
// one directory per user and one header per marker, removes stale markers
// under the shard's lock, and removes user directories left empty. A sweep
// thus reads every session header once and every marker's record header
// once more: O(sessions + markers). The markers of sessions that expired
// during a sweep are removed, with their sessions, by the next one.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of Stores, in one
// process or several, may share a directory. Load, Range and the listing
// of UserKeys take no lock: rename is atomic, so they see either the
// previous or the next version of a file. Save, Delete, UpdateRecord and
// DeleteUser take the shard's lock: an in-process mutex, then an exclusive
// flock(2) on the shard's lock file, which serializes them with every
// other process using the directory. UpdateRecord's
// read-modify-write is therefore atomic across processes. DeleteExpired
// takes the same lock before removing anything and checks the header again
// under it, so a session rewritten meanwhile is kept. A wait for either
// lock gives up when the call's context ends, with an error that wraps the
// context's and names the lock; a wait under a context that cannot end
// (context.Background(), as sessionctl's sweeps use) lasts as long as the
// lock is held. A lock is held only for one file write with its markers,
// or for one batch of at most 128 files handled by the sweeper or
// DeleteUser.
//
// The lock files must stay where they are while any process uses the
// directory; removing the .locks directory breaks cross-process exclusion.
// flock(2) locks are not reliable on every network file system.
//
// # Durability
//
// By default (Options.NoSync false) Save, UpdateRecord, Delete and DeleteUser
// return only once the files and their directory entries have been
// fsynced. A crash of the
// process or of the machine (power cut included, on disks that honour
// fsync) then loses nothing that was acknowledged: every session file holds
// the version last acknowledged or, if a write was under way, that write's
// complete new version; a deleted session stays deleted. The only debris is
// temporary files, which the sweeper removes after the grace period, and
// stale markers (see below). A
// write that fails before its rename (a full disk, a permission error)
// returns its error and leaves the previous version in place; if only the
// final fsync of the directory fails, the error is returned although the
// new version is in place, and a crash may bring back the previous one.
// A durable write thus costs two fsyncs, the temporary file's and the
// directory's; the second is what makes the rename itself survive a power
// cut. Where an fsync is a journal commit, as on ext4, it adds about a third
// to a bare temporary file + write + fsync + rename; BenchmarkSave shows
// the store next to both floors, with and without it, on the machine at
// hand. Options.NoSync is the way to give it up, with what that loses.
// Removals done by DeleteExpired are not synced: after a crash an expired
// session may be back on disk, still expired, so it is never loaded and the
// next sweep removes it again.
//
// The user index follows the records: a new owner's marker is fsynced
// before the record naming that owner is written, so after a crash no
// session lacks its marker, except an expired one that a sweep had removed
// and the crash brought back: it is never loaded, and the next sweep
// removes it. Removals of markers are not synced; a crash may bring some
// back as stale markers, which readers ignore and the sweeper removes. This
// holds when every process sharing the directory writes durably.
//
// With Options.NoSync, nothing is fsynced. A crash of the process alone
// still loses nothing, since the kernel holds the written data. A crash of
// the operating system or a power cut loses the writes and deletes the
// kernel had not yet written back (on Linux, typically those of the last
// 5 to 30 seconds): a session may come back in an older version, a new
// session may be missing, a logged-out session may be back, and a file may
// be empty or partly written; such files fail their checksum and load as
// missing. A marker may be lost while its session survives: until the next
// DeleteExpired restores it, UserKeys and DeleteUser miss that session.
package filestore
