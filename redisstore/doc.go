// Package redisstore keeps sessions in Redis through go-redis
// (github.com/redis/go-redis/v9), for deployments with several application
// servers. New takes the redis.UniversalClient the application already has:
// a standalone server (*redis.Client), a Sentinel-managed primary
// (redis.NewFailoverClient, also a *redis.Client) or a Cluster
// (*redis.ClusterClient). The store never closes that client: its owner does,
// after the engine and the store are no longer used. It needs Redis 6.2 or
// later (SET with PXAT) with Lua scripting.
//
// # Basics
//
// Each record is one Redis string under Options.Prefix + "s:" + the store
// key, holding a small binary envelope (format byte, write token, expiry in
// Unix milliseconds, owner's user ID, then the encoded session), so Load
// returns Data, Expires and UserID exactly as saved. Redis expires the key
// itself: every write sets it with SET ... PXAT, to the millisecond, and a
// record whose Expires is already past is deleted instead of stored. The
// store therefore needs no sweeper and does not implement session.Sweeper;
// Load also checks the expiry against this host's clock, so a record is never
// returned past its Expires even if the clocks disagree.
//
// UpdateRecord (session.Updater), which the engine commits through, is an
// optimistic compare-and-set: read the record, call the UpdateFunc, then
// write with a Lua script that applies the new value only if the record is
// still the one that was read (each write carries a fresh random token; the
// script compares it). On a conflict the script returns the current record
// and the function runs again on it, so it may be called more than once.
// Updates of one key from one Store wait for each other in process (on one
// of 1024 lock stripes) instead of conflicting in Redis; conflicts with other
// processes back off with jitter,
// and after Options.MaxAttempts attempts UpdateRecord fails with ErrConflict. An
// UpdateFunc error is returned unchanged and nothing is written, so the
// engine's ErrSessionInterrupted for a deleted session never resurrects it
// (an error for a guess, below, stands once a read confirms the guess).
//
// A request that loads its session and then commits it would read the
// record twice. Load therefore keeps a copy of what it read, one value per
// lock stripe (so at most 1024 values, each the size of a session, until
// Close), and the next UpdateRecord of that key through the same Store takes the
// copy as its first guess instead of reading: the compare-and-set checks
// the guess like any read, so a guess that another writer has made stale
// only costs the read it would have saved. A request cycle is thus two
// round trips: Load, then the script. In split mode, a record with an
// owner is written only once a read has confirmed the guess, so that no
// index claim is made for a write that a stale guess would have made.
//
// Range (session.Ranger) iterates with SCAN, never KEYS, on every primary of
// a Cluster in turn. It remembers the keys it has yielded (SCAN may repeat
// one), so it holds a set of the store's keys in memory while it runs.
//
// The per-user index (session.UserIndexer) is one Redis hash per user, under
// Options.Prefix + "u:" + the user ID: its fields are the store keys of that
// user's records. Its expiry is pushed forward by every write of one of its
// records, so it outlives the longest-lived of them. Anonymous records
// (UserID "") are not indexed.
//
// # Cluster
//
// Keys carry no hash tag by default, so the records spread over all slots
// and primaries like any other keys, by CRC16 of the whole key, and so do
// the user indexes. A record and its owner's index are then usually in
// different slots, where no Redis command, MULTI or script can change both
// atomically. The store therefore runs one of two protocols:
//
// Single-slot mode, for a *redis.Client (standalone or Sentinel) and for a
// Prefix that contains a hash tag (such as "{sessions}:", which puts every
// key in one slot, on one primary): each Save, UpdateRecord and Delete changes the
// record and the indexes of its old and new owner in one Lua script, so an
// index holds exactly its user's records, apart from records that Redis
// expired or evicted, whose entries UserKeys and DeleteUser remove when they
// next read them.
//
// Split mode, for a *redis.ClusterClient or *redis.Ring without such a
// prefix (and any client type the store does not know): every write of a record that has an
// owner first adds a claim to the owner's index (the store key, a token and
// the claim's time), and only then writes the record, with a script that
// refuses the write if the claim is more than 30 seconds old by the Redis
// node's clock. Writes never remove index entries. UserKeys and DeleteUser
// read the index, check each record (owner, expiry) and keep only the live
// records of that user; they remove the entry of a record that is gone or
// someone else's only once its claim is more than a minute old, and only if
// no newer claim replaced it meanwhile. A claim is thus removed only after
// every write it covered has either landed (and the record was then seen not
// to be that user's) or been refused.
//
// What holds in both modes:
//
//   - A live record is in its owner's index. In split mode this assumes that
//     the clocks of the application servers and the Redis nodes agree within
//     about 15 seconds; it holds even when a write fails half-way, since the
//     claim comes first (a claim left behind costs only space until a reader
//     removes it).
//   - UserKeys returns only keys whose records it saw live and owned by that
//     user.
//   - DeleteUser deletes every record that is that user's from the moment it
//     reads the index until it reaches the record. It deletes a record only
//     if it is unchanged since it was read (a record changed meanwhile is
//     read again), so a session that moved to another user in between is
//     left alone.
//   - In split mode, stale entries (deleted sessions, owner changes) stay in
//     the index until UserKeys or DeleteUser reads it more than a minute
//     after their last claim, or until the index expires with the user's
//     last record; readers skip them meanwhile.
//
// A split-mode write of an owned record costs one more round trip (the
// claim) than in single-slot mode, and needs two primaries up, the record's
// and the owner's index's: while either is down, the write fails. Writes of
// anonymous records cost the same in both modes.
// Range runs SCAN on each primary of the cluster (ClusterClient.ForEachMaster)
// one after another, and on each shard of a *redis.Ring.
//
// # Concurrency
//
// A Store is safe for concurrent use, and any number of processes may share
// one Redis deployment and prefix: every record change is one atomic Redis
// script, and UpdateRecord's compare-and-set makes its read-modify-write atomic
// against every other Save, UpdateRecord and Delete of that key, from any process.
//
// Every method honours its context's deadline. go-redis applies context
// deadlines to network I/O only when the client's ContextTimeoutEnabled
// option is set, which is recommended; with other clients each Redis call
// runs in a helper goroutine so that the method can return when the context
// ends while go-redis waits out its own ReadTimeout. When Redis is down or
// restarting, methods return errors (the engine's middleware answers them
// through Options.ErrorHandler) and the store recovers by itself when Redis
// is back: go-redis reconnects, the scripts are reloaded on demand, and the
// store caches nothing about the server (the values Load keeps are only
// guesses that the next write checks).
//
// go-redis resends a command when a connection fails before its reply
// arrives (the client's MaxRetries). A resent write that had already landed
// is recognised by its token and not applied again, unless another writer
// changed the record in between, in which case UpdateRecord runs the function
// again on the new record (as after any conflict).
//
// # Durability
//
// The store adds no durability of its own: a write is acknowledged once the
// Redis primary has applied it in memory, and what survives a crash is what
// the deployment's persistence settings keep. With no persistence (save ""
// and appendonly no) a Redis restart logs every visitor out. With RDB
// snapshots only, a crash loses the writes since the last snapshot: new
// sessions and logins of those minutes are lost, and sessions deleted in
// them (logouts) come back until they expire. With appendonly yes and
// appendfsync everysec (Redis's usual choice), a crash loses at most about
// one second of writes; appendfsync always loses none. Replication is
// asynchronous: a failover (Sentinel or Cluster) can lose the writes the
// replica had not received yet, with the same consequences. Expiry needs no
// persistence: a record restored from disk whose time has passed is never
// returned.
package redisstore
