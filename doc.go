// Package session is sessionkv's session engine: Django's session framework
// for Go servers.
//
// # Basics
//
// Each visitor gets a dictionary stored on the server; the cookie carries
// only a random session ID. Create an Engine over a Store, wrap your handler
// with its Middleware, and use the Session from the request context:
//
//	engine, err := session.New(memstore.New(), nil) // nil: Django's defaults
//	...
//	http.ListenAndServe(addr, engine.Middleware(mux))
//
//	func setName(w http.ResponseWriter, r *http.Request) {
//		s := session.FromContext(r.Context())
//		s.Set("name", "Sonam")                 // request.session['name'] = 'Sonam'
//		name, _ := s.GetString("name")         // request.session.get('name')
//		_ = s.Delete("name")                   // del request.session['name']
//	}
//
// The behaviour is Django's: lazy loading, the accessed and modified flags,
// set_expiry and its getters, flush, cycle_key, the test cookie, and the
// middleware's rules for saving, cookies and "Vary: Cookie". Beyond Django,
// the middleware commits before the response starts (so streaming handlers
// lose nothing), refuses to bring back a session deleted during the request
// (ErrSessionInterrupted, answered with 400), and never adopts a session ID
// the store does not know.
//
// # Stores
//
// A Store has three methods: Load, Save and Delete of a Record (encoded data,
// expiry and owner) under a key. Optional interfaces add powers the engine
// uses when present: Sweeper (the background sweeper removes expired
// records), Updater (atomic read-modify-write: merged commits and the
// no-resurrection check), Ranger and ExpiredRanger (iteration for tools),
// UserIndexer (per-user listing and revocation), LoadAppender (loads into
// recycled buffers), Sealer (the session lives in the cookie) and
// io.Closer. This module's stores: boltstore (the embedded
// default), filestore, redisstore, cachestore (a cache in front of any
// store), cookiestore and memstore. Package storetest is the conformance
// suite every server-side store runs.
//
// Records are stored under StoreKey(id), the SHA-256 of the ID, so a leaked
// store holds no usable cookie and no server-side store ever sees client
// input as a key. Options.IDs (an IDScheme) replaces that scheme, and a
// RecordCodec the record's format, to share sessions with another program
// in its own layout: package djangosession does so for Django.
//
// # Type model
//
// A session holds values of these dynamic types only, at any depth:
//
//	nil, bool, int64, uint64, float64, string, []byte, time.Time,
//	[]any, map[string]any
//
// Set converts what it is given, once, so that Get returns the same type and
// value before and after a save and reload: every integer kind becomes int64
// (unsigned values above math.MaxInt64 stay uint64); float32 becomes
// float64; times become UTC without a monotonic reading (the same instant);
// named types become their underlying type (type Role string → string);
// pointers are followed; other slices and arrays become []any and maps with
// string keys map[string]any; structs become map[string]any of their
// exported fields (msgpack field names), and GetAs converts them back. Values
// are copied, so later changes by the caller do not reach the session. A
// func, channel, complex number or map with non-string keys cannot be held:
// Set does not store it and the next save fails with ErrUnsupportedValue.
//
// MsgpackCodec, the default, keeps the model exactly. JSONCodec trades
// []byte and time.Time fidelity for interoperability (see its doc).
//
// # Cost
//
// A request costs what its handler touches, not what the session holds.
// With MsgpackCodec, loading a session checks the whole stored record in
// one pass that builds nothing but an index of its entries (key and byte
// span), and each value is decoded the first time it is read: a request
// that reads one key of a 1,000-key session decodes that one value, and
// Has, Keys and Len decode none. A commit writes the record from the bytes
// of the entries the request left alone and the encoding of those it set,
// never decoding or re-encoding the rest; the store still writes the whole
// record, its unit. Reading a stored integer with GetInt or GetInt64
// decodes it in place. Other codecs decode the whole record at load.
//
// # Concurrency
//
// Engine, the stores and codecs are safe for concurrent use. A Session is
// safe for concurrent use by the goroutines serving its request.
//
// Two requests of the same visitor (two tabs, an AJAX burst) get two Session
// values. Each remembers what it changed — keys set or deleted, the expiry
// choice, the owner — and its commit applies exactly that to the record as
// it is in the store at that moment, inside the store's atomic
// read-modify-write (Updater): requests that change different keys all
// persist, and for the same key the later commit wins. Untouched values are
// copied as encoded bytes, not decoded and re-encoded. Clear, Flush
// and CycleKey replace the whole record by design. A request that only read
// the session just extends its expiry. With a store that does not implement
// Updater, a commit replaces the whole record: the later writer wins.
//
// A commit never brings back a session deleted while the request ran (Flush
// or CycleKey in another request, Engine.DeleteUser, expiry): it fails with
// ErrSessionInterrupted, which the middleware answers with 400 and no
// cookie, like Django's SessionInterrupted.
//
// # Users
//
// Session.SetUserID records the session's owner, beside the data.
// Engine.UserSessions lists a user's live sessions and Engine.DeleteUser
// revokes them all ("log out everywhere"), in O(that user's sessions), with
// stores that implement UserIndexer (all of this module's server-side
// stores). Engine.Range streams every stored session for tools and
// migrations.
//
// # Durability
//
// The engine keeps nothing of its own: what a crash can lose is what the
// store can lose (each store's documentation says). A corrupt or undecodable
// record loads as a new empty session, with a warning logged, never a panic.
//
// # Caveats
//
// With a store that does not implement Updater, the check that a session
// still exists and the write that follows are two steps, so a logout that
// lands between them can be undone, and concurrent commits replace each
// other's changes. The stores of this module implement Updater.
//
// After a merging Save, the Session still holds this request's view; keys
// other requests saved meanwhile are in the store, not in it.
//
// Changes made after the response started are saved only if the visitor
// already holds the session's cookie: a new session or a new ID cannot reach
// the browser once headers are sent.
package session
