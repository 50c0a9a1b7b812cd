package djangosession

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
	"github.com/sessionkv/session/internal/filelock"
	"github.com/sessionkv/session/internal/location"
)

// Errors of FileStore.
var (
	// ErrInvalidKey is returned for a session key that Django's file
	// backend would refuse (InvalidSessionKey) or that cannot name a file:
	// fewer than MinFileKeyLen or more than MaxFileKeyLen characters, or a
	// character outside SessionKeyChars. Nothing on disk is looked up,
	// created or removed for such a key. Load wraps it together with
	// session.ErrNotFound.
	ErrInvalidKey = errors.New("djangosession: invalid session key")

	// ErrForeignData is returned by FileStore.Save and UpdateRecord, and by
	// CookieStore.Seal, for record data that is not signed with the
	// store's secret key and its backend's salt: data Django would not
	// read. It means the engine's Codec is not the one for the store
	// (Settings.SessionCodec for FileStore, Settings.CookieCodec for
	// CookieStore), or that the codec's Settings are not the store's.
	ErrForeignData = errors.New("djangosession: record data is not session data signed for this store (the engine's Codec must be the store's: Settings.SessionCodec or CookieCodec, same secret key)")
)

// Bounds on the session keys FileStore accepts.
const (
	// MinFileKeyLen is the shortest key: Django's
	// SessionBase._validate_session_key refuses shorter ones.
	MinFileKeyLen = 8
	// MaxFileKeyLen is the longest key, so that the cookie name, the key
	// and a temporary file's suffix fit in a file name. Django issues 32.
	MaxFileKeyLen = 128
)

const (
	// tmpInfix follows the cookie name and key in a temporary file's name,
	// as in Django's own (tempfile.mkstemp(prefix=<file> + "_out_")).
	tmpInfix = "_out_"
	// lockDirName holds the lock files, beside the sessions.
	lockDirName = ".djangosession-locks"
	// maxPrefixLen bounds the cookie name, so that it, a key and a
	// temporary file's suffix fit in a file name (255 bytes).
	maxPrefixLen = 100
	// lockStripes is how many lock files the keys are spread over.
	lockStripes = 64

	dirPerm  = 0o700
	filePerm = 0o600

	defaultTempFileGrace = time.Hour
)

// FileStoreOptions configures a FileStore. A nil *FileStoreOptions means
// the defaults.
type FileStoreOptions struct {
	// NoSync skips the fsync of each written file and of the directory
	// after each rename and removal, as Django's file backend does: faster
	// writes, but an operating system crash or power cut may lose the
	// writes and deletes of the last seconds. Default false: every write
	// and delete is durable when it returns.
	NoSync bool

	// AllowSharedLocation accepts a directory that another local user owns
	// or can write to, which NewFileStore otherwise refuses with an error
	// wrapping session.ErrUnsafeLocation (such a user could read every
	// session key, which are live cookies here, and plant sessions). Set
	// it only when Django runs as another user on purpose and the
	// directory is shared with that user alone; NewFileStore then logs a
	// warning instead. Default false.
	AllowSharedLocation bool

	// TempFileGrace is how old a temporary file left by a crashed writer
	// (this package's or Django's, both named <cookie name><key>_out_...)
	// must be before DeleteExpired removes it. Default one hour.
	TempFileGrace time.Duration

	// Logger receives warnings about shared directories and failures to
	// release a lock. Default slog.Default().
	Logger *slog.Logger
}

// FileStore keeps sessions as Django's file session backend
// (SESSION_ENGINE "django.contrib.sessions.backends.file") keeps them, so
// that a Go service and a Django application share them through one
// directory (SESSION_FILE_PATH). See the package documentation, # File
// backend. Create it with NewFileStore. It is safe for concurrent use, by
// goroutines and by processes sharing the directory.
type FileStore struct {
	dir    string
	prefix string   // the cookie name, before each key
	st     Settings // a copy
	noSync bool
	grace  time.Duration
	log    *slog.Logger
	closed closer.Flag
	// locks are what the keys' writes are spread over: an in-process lock,
	// then a flock(2) of <dir>/.djangosession-locks/NN.lock (see package
	// filelock).
	locks [lockStripes]*filelock.Lock
}

var (
	_ session.Store         = (*FileStore)(nil)
	_ session.Updater       = (*FileStore)(nil)
	_ session.Sweeper       = (*FileStore)(nil)
	_ session.Ranger        = (*FileStore)(nil)
	_ session.ExpiredRanger = (*FileStore)(nil)
	_ session.Counter       = (*FileStore)(nil)
	_ io.Closer             = (*FileStore)(nil)
)

// NewFileStore opens the sessions of Django's file backend in dir
// (Django's SESSION_FILE_PATH), creating the directory (mode 0700) if it
// does not exist. settings must hold Django's SECRET_KEY (and
// SECRET_KEY_FALLBACKS, SESSION_COOKIE_AGE and SESSION_COOKIE_NAME when
// they are not the defaults): the store reads each file's expiry and owner
// from its signed data, and its Now is the clock expiry is judged by.
// NewFileStore copies settings; a nil opts means the defaults.
//
// dir must be given: Django's default, the system's temporary directory,
// is shared with every local user. NewFileStore fails, with an error
// wrapping session.ErrUnsafeLocation, when the directory is not private:
// it must belong to the current user and be writable by no one else, and
// so must every directory above it unless that one has the sticky bit (see
// FileStoreOptions.AllowSharedLocation). It also fails when the directory
// cannot be written, with ErrNoKey without a secret key, and when
// SessionCookieName cannot prefix a file name.
func NewFileStore(dir string, settings *Settings, opts *FileStoreOptions) (*FileStore, error) {
	var o FileStoreOptions
	if opts != nil {
		o = *opts
	}
	if o.TempFileGrace <= 0 {
		o.TempFileGrace = defaultTempFileGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if settings == nil || settings.SecretKey == "" {
		return nil, ErrNoKey
	}
	st := *settings
	prefix := st.cookieName()
	if err := (&http.Cookie{Name: prefix, Value: "x"}).Valid(); err != nil || strings.ContainsAny(prefix, `/\`) || len(prefix) > maxPrefixLen {
		return nil, fmt.Errorf("djangosession: SessionCookieName %q cannot prefix a file name: it must be a valid cookie name of at most %d bytes", prefix, maxPrefixLen)
	}
	if dir == "" {
		return nil, errors.New("djangosession: NewFileStore needs a directory (Django's SESSION_FILE_PATH)")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("djangosession: %w", err)
	}
	err = os.MkdirAll(dir, dirPerm)
	if err == nil {
		err = location.Check(dir, location.Dir)
	}
	if err = location.Judge(err, o.AllowSharedLocation, o.Logger, "djangosession"); err != nil {
		return nil, fmt.Errorf("djangosession: session directory %s: %w", dir, err)
	}
	lockDir := filepath.Join(dir, lockDirName)
	if err := os.MkdirAll(lockDir, dirPerm); err != nil {
		return nil, fmt.Errorf("djangosession: create lock directory: %w", err)
	}
	// Lock files and sessions are created on first use; check now that
	// they can be.
	for _, d := range []string{dir, lockDir} {
		if err := probeWritable(d); err != nil {
			return nil, err
		}
	}
	s := &FileStore{dir: dir, prefix: prefix, st: st, noSync: o.NoSync, grace: o.TempFileGrace, log: o.Logger}
	for i := range s.locks {
		s.locks[i] = filelock.New(filepath.Join(lockDir, strconv.Itoa(i)+".lock"), filePerm)
	}
	return s, nil
}

// probeWritable creates and removes a file in dir. Permission bits alone
// would not tell: root ignores them, and read-only mounts and ACLs
// override them.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".djangosession-probe-")
	if err == nil {
		f.Close()
		err = os.Remove(f.Name())
	}
	if err != nil {
		return fmt.Errorf("djangosession: directory %s is not writable: %w", dir, err)
	}
	return nil
}

// Dir returns the absolute path of the store's directory.
func (s *FileStore) Dir() string { return s.dir }

// path returns the file of the session with the given key, as Django's
// file backend names it: the directory, then the cookie name and the key.
// The key must have passed checkKey.
func (s *FileStore) path(key string) string {
	return s.dir + string(os.PathSeparator) + s.prefix + key
}

// checkKey returns an error wrapping ErrInvalidKey unless key is one the
// store builds a file name from. It never echoes the key, which may be
// huge or hold control characters.
func checkKey(key string) error {
	if len(key) < MinFileKeyLen || len(key) > MaxFileKeyLen {
		return fmt.Errorf("%w: %d characters, not %d to %d", ErrInvalidKey, len(key), MinFileKeyLen, MaxFileKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return fmt.Errorf("%w: characters outside [a-z0-9], which Django's file backend refuses", ErrInvalidKey)
		}
	}
	return nil
}

// keyOf returns the session key a directory entry's name holds, if it is
// a session file's name.
func (s *FileStore) keyOf(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, s.prefix)
	return key, ok && checkKey(key) == nil
}

// isTemp reports whether name is a temporary file's: the name of a session
// file, "_out_" and a suffix.
func (s *FileStore) isTemp(name string) bool {
	file, _, ok := strings.Cut(name, tmpInfix)
	_, isKey := s.keyOf(file)
	return ok && isKey
}

// fileState is what read found.
type fileState int

const (
	fileMissing fileState = iota
	fileEmpty             // Django's placeholder, written before the data
	fileCorrupt           // not session data this store can open
	fileOK
)

// read reads the session file of key and works out its record: the data,
// the expiry date by Django's rules from the values and the file's
// modification time, and the owner. For a corrupt or empty file, Expires
// is what Django works out for it (mtime + SESSION_COOKIE_AGE) and err
// says what is wrong. Errors of the file system other than a missing file
// come with fileMissing.
func (s *FileStore) read(key string) (session.Record, fileState, error) {
	f, err := openSession(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return session.Record{}, fileMissing, nil
	}
	if err != nil {
		// A symbolic link is refused by openSession (with an error that
		// depends on the system): it is no session, as any other file
		// that is not a regular one.
		if fi, lerr := os.Lstat(s.path(key)); lerr == nil && !fi.Mode().IsRegular() {
			mtime := fi.ModTime().Round(time.Microsecond).UTC()
			return session.Record{Expires: mtime.Add(s.st.cookieAge())}, fileCorrupt,
				fmt.Errorf("%w: djangosession: %s is not a regular file", session.ErrCorrupt, fi.Name())
		}
		return session.Record{}, fileMissing, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return session.Record{}, fileMissing, err
	}
	// Django reads the modification time to the microsecond.
	mtime := fi.ModTime().Round(time.Microsecond).UTC()
	rec := session.Record{Expires: mtime.Add(s.st.cookieAge())}
	if !fi.Mode().IsRegular() {
		return rec, fileCorrupt, fmt.Errorf("%w: djangosession: %s is not a regular file", session.ErrCorrupt, fi.Name())
	}
	limit := s.fileLimit()
	if fi.Size() > limit {
		return rec, fileCorrupt, fmt.Errorf("%w: djangosession: %s has %d bytes, more than session data of %d", session.ErrCorrupt, fi.Name(), fi.Size(), limit)
	}
	data := make([]byte, 0, fi.Size())
	data, err = readAll(f, data, limit)
	if errors.Is(err, session.ErrCorrupt) {
		return rec, fileCorrupt, err
	}
	if err != nil {
		return session.Record{}, fileMissing, err
	}
	if len(data) == 0 {
		return rec, fileEmpty, nil
	}
	rec.Data = data
	values, err := s.st.DecodeSession(string(data))
	if err != nil {
		return rec, fileCorrupt, err
	}
	e, err := ReadExpiry(values)
	if err != nil {
		return rec, fileCorrupt, err
	}
	rec.Expires = e.DateAt(mtime, s.st.cookieAge())
	rec.UserID, _ = UserID(values)
	return rec, fileOK, nil
}

// readAll reads f into buf up to limit bytes.
func readAll(f *os.File, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: djangosession: session file over %d bytes", session.ErrCorrupt, limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// fileLimit is the size of the largest session data the store reads:
// MaxPayload bytes of JSON in base64, and the timestamp and signature.
func (s *FileStore) fileLimit() int64 {
	return int64(s.st.Signer(SessionSalt).maxPayload())*4/3 + 256
}

// live reports whether a file session expiring at expires is still live
// at now. Django's file backend deletes a session once its
// get_expiry_age(), the time left in whole seconds rounded down, is zero
// or less: once less than a whole second is left.
func live(expires, now time.Time) bool { return expires.Sub(now) >= time.Second }

// Load implements session.Store: it reads the file of key and returns its
// data as Django wrote it, its expiry date (see the package documentation,
// # File backend) and its owner (UserIDKey in the data). It takes no lock.
// A key Django's file backend refuses gives an error wrapping both
// session.ErrNotFound and ErrInvalidKey; a missing file, an empty one
// (Django's placeholder while it creates a session) or an expired session
// session.ErrNotFound (an expired file is left for the sweeper, where
// Django's load removes it); data that does not open with the settings'
// keys an error wrapping session.ErrCorrupt.
func (s *FileStore) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	if err := checkKey(key); err != nil {
		return session.Record{}, fmt.Errorf("%w: %w", session.ErrNotFound, err)
	}
	rec, state, err := s.read(key)
	switch {
	case state == fileCorrupt:
		return session.Record{}, fmt.Errorf("djangosession: session file %s: %w", key, err)
	case err != nil:
		return session.Record{}, fmt.Errorf("djangosession: load: %w", err)
	case state != fileOK || !live(rec.Expires, s.st.now()):
		return session.Record{}, session.ErrNotFound
	}
	return rec, nil
}

// checkRecord checks a record before it is written: an owner of at most
// session.MaxUserIDLen bytes, and data signed with the store's key and
// SessionSalt (ErrForeignData otherwise).
func (s *FileStore) checkRecord(rec session.Record) error {
	if err := session.CheckUserID(rec.UserID); err != nil {
		return fmt.Errorf("djangosession: %w", err)
	}
	if int64(len(rec.Data)) > s.fileLimit() {
		return fmt.Errorf("djangosession: %d bytes of session data, over the %d the store reads", len(rec.Data), s.fileLimit())
	}
	if err := s.st.Signer(SessionSalt).checkSigned(string(rec.Data)); err != nil {
		return ErrForeignData
	}
	return nil
}

// Save implements session.Store: it writes rec.Data, which must be session
// data signed with the store's key (what SessionCodec writes; anything
// else fails with ErrForeignData), as the file of key, atomically (a
// temporary file in the directory, renamed over the session file) and,
// unless NoSync is set, durably. rec.Expires and rec.UserID are not
// stored: Load works them out from the data and the file's modification
// time, as Django does, which gives back what the engine saved (the
// engine's records carry their expiry choice and owner in their data).
// A key Django's file backend refuses fails with ErrInvalidKey, a UserID
// over session.MaxUserIDLen with session.ErrUserIDTooLong.
func (s *FileStore) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.checkRecord(rec); err != nil {
		return err
	}
	st, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.unlock(st)
	return s.write(key, rec.Data)
}

// Delete implements session.Store: it removes the file of key and, unless
// NoSync is set, syncs the directory. A missing file is not an error; a
// key Django's file backend refuses fails with ErrInvalidKey.
func (s *FileStore) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	st, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.unlock(st)
	return s.remove(key)
}

// UpdateRecord implements session.Updater. fn runs once, holding the key's
// lock, which excludes every Save, Delete, UpdateRecord and sweep of the
// key by this store and by every other FileStore on the directory, in this
// process or another; fn must not call the store. Django's own writes take
// no lock (see the package documentation). A missing, empty, corrupt or
// expired file is passed to fn as not found. A returned record already
// expired removes the file; otherwise its data is written as Save writes
// it, and must pass Save's checks.
func (s *FileStore) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	st, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.unlock(st)
	cur, state, err := s.read(key)
	if err != nil && state == fileMissing {
		return fmt.Errorf("djangosession: update: %w", err)
	}
	found := state == fileOK && live(cur.Expires, s.st.now())
	if !found {
		cur = session.Record{}
	}
	next, err := fn(cur, found)
	if err != nil {
		return err
	}
	if next.Expired(s.st.now()) {
		return s.remove(key)
	}
	if err := s.checkRecord(next); err != nil {
		return err
	}
	return s.write(key, next.Data)
}

// write replaces the file of key with data: a temporary file in the
// directory, written, synced, renamed over the session file, and the
// directory synced (no syncs with NoSync). On an error before the rename
// the previous file is untouched and the temporary file removed. The key's
// lock must be held.
func (s *FileStore) write(key string, data []byte) error {
	f, err := os.CreateTemp(s.dir, s.prefix+key+tmpInfix) // mode 0600
	if err != nil {
		return fmt.Errorf("djangosession: save: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && !s.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(key))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("djangosession: save: %w", err)
	}
	if err := s.syncDir(); err != nil {
		return fmt.Errorf("djangosession: save: %w", err)
	}
	return nil
}

// remove removes the file of key, if any, and syncs the directory. The
// key's lock must be held.
func (s *FileStore) remove(key string) error {
	err := os.Remove(s.path(key))
	switch {
	case err == nil:
		err = s.syncDir()
	case errors.Is(err, fs.ErrNotExist):
		err = nil
	}
	if err != nil {
		return fmt.Errorf("djangosession: delete: %w", err)
	}
	return nil
}

// syncDir fsyncs the directory, making the entries created, renamed or
// removed in it durable, unless NoSync is set.
func (s *FileStore) syncDir() error {
	if s.noSync || runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing on Windows
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// DeleteExpired implements session.Sweeper, Django's clearsessions for the
// file backend: it removes the session files whose session has expired by
// Django's rules, and returns how many. A corrupt or empty file expires as
// Django works it out for an empty session, SESSION_COOKIE_AGE after its
// modification (Django never removes an empty one; this store does). It
// also removes temporary files older than TempFileGrace, which it does not
// count. Each removal holds the key's lock and reads the file again first,
// so a session saved meanwhile is kept. Files not named like sessions are
// left alone.
func (s *FileStore) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	err := s.scan(ctx, func(name string, key string) error {
		if key == "" {
			path := filepath.Join(s.dir, name)
			if info, err := os.Lstat(path); err == nil && s.st.now().Sub(info.ModTime()) > s.grace {
				_ = os.Remove(path)
			}
			return nil
		}
		if !s.expiredOnDisk(key) {
			return nil
		}
		st, err := s.lock(ctx, key)
		if err != nil {
			return err
		}
		defer s.unlock(st)
		if !s.expiredOnDisk(key) { // saved again meanwhile
			return nil
		}
		if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("djangosession: sweep: %w", err)
		}
		n++
		return nil
	}, true)
	return n, err
}

// expiredOnDisk reports whether the file of key is there and expired, by
// its data or, when that is corrupt or empty, by its modification time.
func (s *FileStore) expiredOnDisk(key string) bool {
	rec, state, _ := s.read(key)
	return state != fileMissing && !live(rec.Expires, s.st.now())
}

// scan calls fn for each session file of the directory, with its key, and
// with temps also for each temporary file, with key "". It reads the
// directory in batches, without sorting it, and stops at fn's first error
// or when ctx is done.
func (s *FileStore) scan(ctx context.Context, fn func(name, key string) error, temps bool) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("djangosession: %w", err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(256)
		for _, e := range entries {
			if err := s.closed.Check(ctx); err != nil {
				return err
			}
			name := e.Name()
			if !e.Type().IsRegular() {
				continue // never a session file: a directory, a link...
			}
			if key, ok := s.keyOf(name); ok {
				if err := fn(name, key); err != nil {
					return err
				}
			} else if temps && s.isTemp(name) {
				if err := fn(name, ""); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("djangosession: %w", err)
		}
	}
}

// Range implements session.Ranger: it calls fn for each live session in
// the directory, with its record as Load returns it, until fn returns
// false. It takes no lock and skips files that are empty or corrupt.
// Sessions saved or deleted meanwhile may or may not be seen.
func (s *FileStore) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeFiles(ctx, fn, true)
}

// RangeExpired implements session.ExpiredRanger: Range for the sessions
// that have expired but whose files are still there.
func (s *FileStore) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeFiles(ctx, fn, false)
}

// errStop ends a scan early.
var errStop = errors.New("stop")

func (s *FileStore) rangeFiles(ctx context.Context, fn func(key string, rec session.Record) bool, wantLive bool) error {
	err := s.scan(ctx, func(_, key string) error {
		rec, state, err := s.read(key)
		if state == fileMissing && err != nil {
			return fmt.Errorf("djangosession: range: %w", err)
		}
		if state != fileOK || live(rec.Expires, s.st.now()) != wantLive {
			return nil
		}
		if !fn(key, rec) {
			return errStop
		}
		return nil
	}, false)
	if err == errStop {
		return nil
	}
	return err
}

// Count implements session.Counter: how many session files the directory
// holds, expired, empty and corrupt ones included, without reading them.
func (s *FileStore) Count(ctx context.Context) (int, error) {
	n := 0
	err := s.scan(ctx, func(string, string) error { n++; return nil }, false)
	return n, err
}

// Close makes later calls fail with session.ErrClosed and waits for the
// writes in progress in this process. It leaves the files in place. Close
// is idempotent.
func (s *FileStore) Close() error {
	if s.closed.Close() {
		return nil
	}
	// Waiting for each lock waits for the write holding it; writers check
	// closed once they have their lock, so none starts afterwards.
	for _, l := range s.locks {
		l.Wait()
	}
	return nil
}

// String describes the store for logs.
func (s *FileStore) String() string {
	return fmt.Sprintf("djangosession.FileStore(%s, files %s<key>)", s.dir, s.prefix)
}

// lockOf returns the lock of key.
func (s *FileStore) lockOf(key string) *filelock.Lock {
	h := fnv.New32a()
	h.Write([]byte(key))
	return s.locks[h.Sum32()%lockStripes]
}

// lock takes key's lock: its in-process lock, then its file lock. It
// fails with the context's error, or session.ErrClosed once the store is
// closed; a wait for either lock ends when ctx is done.
func (s *FileStore) lock(ctx context.Context, key string) (*filelock.Lock, error) {
	l := s.lockOf(key)
	if err := l.Lock(ctx, s.closed.Check); err != nil {
		return nil, fmt.Errorf("djangosession: session lock: %w", err)
	}
	return l, nil
}

// unlock releases what lock took. Releasing a flock cannot fail short of a
// bad descriptor; such a failure is logged, and the kernel drops the lock
// with the descriptor anyway.
func (s *FileStore) unlock(l *filelock.Lock) {
	if err := l.Unlock(); err != nil {
		s.log.Error("djangosession: unlock", "lock", l.Path(), "err", err)
	}
}
