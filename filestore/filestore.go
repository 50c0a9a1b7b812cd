package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
	"github.com/sessionkv/session/internal/filelock"
	"github.com/sessionkv/session/internal/location"
)

// ErrInvalidKey is returned for a key that is not a store key of 64
// lowercase hexadecimal characters. Nothing on disk is looked up, created or
// removed for such a key.
var ErrInvalidKey = errors.New("filestore: invalid store key")

const (
	// envFilePath names the directory when New is given none, as Django's
	// SESSION_FILE_PATH setting.
	envFilePath = "SESSION_FILE_PATH"

	keyLen      = 64 // hex SHA-256
	shardCount  = 256
	lockDirName = ".locks"
	lockSuffix  = ".lock"
	tmpPrefix   = ".tmp-"

	dirPerm  = 0o700
	filePerm = 0o600

	defaultTempFileGrace = time.Hour
)

// Options configures a Store. The zero value, like a nil *Options, selects
// every default.
type Options struct {
	// NoSync skips every fsync, trading crash safety for write speed: see
	// the package documentation for exactly what an operating system crash
	// can then lose. Default false (durable).
	NoSync bool

	// TempFileGrace is how old a temporary file, or a corrupt session file,
	// must be before DeleteExpired removes it. Writers hold the shard lock
	// for as long as their temporary file exists, so any that the sweeper
	// sees under that lock is orphaned; the grace period only guards against
	// writers that do not take the lock. Default one hour.
	TempFileGrace time.Duration

	// AllowSharedLocation accepts a directory that another local user owns
	// or can write to, which New otherwise refuses with an error wrapping
	// session.ErrUnsafeLocation (such a user could plant sessions, change
	// them or read them). Set it only for a directory shared on purpose, by
	// users who all trust one another; New then logs a warning instead.
	// Default false.
	AllowSharedLocation bool

	// Logger receives warnings about corrupt files and failures to release a
	// lock. Default slog.Default().
	Logger *slog.Logger

	// Now returns the current time, against which expiry and the age of
	// temporary files are judged. Default time.Now; tests set a fake clock.
	Now func() time.Time
}

// Store is a session.Store keeping one file per session under a directory.
// It is safe for concurrent use by goroutines and by processes sharing the
// directory. The zero value is not usable; call New.
type Store struct {
	dir    string
	noSync bool
	grace  time.Duration
	log    *slog.Logger
	now    func() time.Time
	closed closer.Flag
	shards [shardCount]shard
	hooks  hooks
}

// hooks lets the package's tests inject faults and interleavings. Every
// field is nil outside tests.
type hooks struct {
	// write replaces (*os.File).Write when writing a session file.
	write func(f *os.File, b []byte) (int, error)
	// beforeSweepLock runs in DeleteExpired between reading a shard's
	// headers and taking its lock, with the shard's name, and between
	// reading a user directory's markers and taking the locks of the stale
	// ones, with ".users/" and the directory's name.
	beforeSweepLock func(shard string)
	// afterWrite runs in Save and UpdateRecord once the record of key is in
	// place, before the previous owner's marker is removed.
	afterWrite func(key string)
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.Sweeper       = (*Store)(nil)
	_ session.Updater       = (*Store)(nil)
	_ session.Ranger        = (*Store)(nil)
	_ session.ExpiredRanger = (*Store)(nil)
	_ session.UserIndexer   = (*Store)(nil)
	_ session.Counter       = (*Store)(nil)
	_ io.Closer             = (*Store)(nil)
)

// New opens the store kept in dir, creating the directory (mode 0700, with
// missing parents) if it does not exist. An empty dir means the
// SESSION_FILE_PATH environment variable or, if that is empty too, a
// directory of the current user in os.TempDir() ("sessionkv-" and the user
// ID on Unix). A nil opts means the defaults.
//
// New fails if dir cannot be created, is not a directory, or is not
// writable. It also fails, with an error wrapping session.ErrUnsafeLocation,
// when the directory is not private: it must belong to the current user and
// be writable by no one else, and so must every directory above it unless
// that one has the sticky bit, as /tmp has (see Options.AllowSharedLocation
// for a directory shared on purpose). A fresh directory from mktemp -d, or
// one made with mkdir -m 700, passes. The default directory must also not be
// a symbolic link.
func New(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TempFileGrace <= 0 {
		o.TempFileGrace = defaultTempFileGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	isDefault := false
	if dir == "" {
		dir = os.Getenv(envFilePath)
	}
	if dir == "" {
		dir, isDefault = location.DefaultDir(), true
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := prepareDir(dir, isDefault, o); err != nil {
		return nil, err
	}
	lockDir := filepath.Join(dir, lockDirName)
	if err := os.MkdirAll(lockDir, dirPerm); err != nil {
		return nil, fmt.Errorf("filestore: create lock directory: %w", err)
	}
	// Lock files are created on first use; check now that they can be.
	if err := probeWritable(lockDir); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, noSync: o.NoSync, grace: o.TempFileGrace, log: o.Logger, now: o.Now}
	for i := range s.shards {
		name := shardName(i)
		s.shards[i] = shard{
			name: name,
			dir:  filepath.Join(dir, name),
			lock: filelock.New(filepath.Join(lockDir, name+lockSuffix), filePerm),
		}
	}
	return s, nil
}

// prepareDir creates dir if needed and checks that it is a directory this
// process can write to and that no one else controls.
func prepareDir(dir string, isDefault bool, o Options) error {
	var err error
	if isDefault {
		err = location.MakeDefaultDir(dir)
	} else if err = os.MkdirAll(dir, dirPerm); err == nil {
		err = location.Check(dir, location.Dir)
	}
	if err = location.Judge(err, o.AllowSharedLocation, o.Logger, "filestore"); err != nil {
		return fmt.Errorf("filestore: session directory %s: %w", dir, err)
	}
	return probeWritable(dir)
}

// probeWritable creates and removes a file in dir. Permission bits alone
// would not tell: root ignores them, and read-only mounts and ACLs
// override them.
func probeWritable(dir string) error {
	probe, err := os.CreateTemp(dir, tmpPrefix+"probe-")
	if err != nil {
		return fmt.Errorf("filestore: directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("filestore: directory %s is not writable: %w", dir, err)
	}
	return nil
}

// Dir returns the absolute path of the store's directory.
func (s *Store) Dir() string { return s.dir }

// checkKey returns an error wrapping ErrInvalidKey unless key is a store
// key. It never echoes the key, which may be huge or hold control
// characters.
func checkKey(key string) error {
	if !isKey(key) {
		return fmt.Errorf("%w: not %d lowercase hex characters (%d bytes)", ErrInvalidKey, keyLen, len(key))
	}
	return nil
}

// isKey reports whether key is a store key (session.ValidStoreKey): 64
// lowercase hexadecimal characters, the only names the store builds paths
// from.
func isKey(key string) bool { return session.ValidStoreKey(key) }

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

const hexDigits = "0123456789abcdef"

func shardName(i int) string { return string([]byte{hexDigits[i>>4], hexDigits[i&15]}) }

// shardOf returns the shard of a valid key: its first byte.
func (s *Store) shardOf(key string) *shard {
	return &s.shards[unhex(key[0])<<4|unhex(key[1])]
}

// path returns the file of a valid key.
func (sh *shard) path(key string) string {
	return sh.dir + string(os.PathSeparator) + key
}

// Load implements session.Store. It takes no lock. A corrupt file is logged
// and reported as session.ErrNotFound.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	if err := checkKey(key); err != nil {
		return session.Record{}, err
	}
	rec, found, err := s.read(ctx, s.shardOf(key).path(key))
	if err != nil {
		return session.Record{}, fmt.Errorf("filestore: load: %w", err)
	}
	if !found || rec.Expired(s.now()) {
		return session.Record{}, session.ErrNotFound
	}
	return rec, nil
}

// read reads the session file at path. A missing or corrupt file gives
// found == false; only I/O errors are returned, unwrapped.
func (s *Store) read(ctx context.Context, path string) (rec session.Record, found bool, err error) {
	h, data, err := readFile(path)
	switch {
	case err == nil:
		return session.Record{Data: data, Expires: h.expiresAt(), UserID: h.user}, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return session.Record{}, false, nil
	case errors.Is(err, session.ErrCorrupt):
		s.log.WarnContext(ctx, "filestore: corrupt session file treated as missing", "path", path, "err", err)
		return session.Record{}, false, nil
	}
	return session.Record{}, false, err
}

// Save implements session.Store. It holds the shard's lock while it reads
// the previous owner from the current file's header, writes the record, and
// moves the key's marker in the user index. A UserID longer than 1 KiB is
// refused with session.ErrUserIDTooLong.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := session.CheckUserID(rec.UserID); err != nil {
		return fmt.Errorf("filestore: save: %w", err)
	}
	sh := s.shardOf(key)
	if err := s.lock(ctx, sh); err != nil {
		return err
	}
	defer s.unlock(sh)
	return s.replace(sh, key, rec, s.owner(sh, key))
}

// owner returns the user ID in the header of key's current file: "" if the
// file has none, is missing, or cannot be read. The shard's lock must be
// held for the answer to stay true.
func (s *Store) owner(sh *shard, key string) string {
	h, err := readHeader(sh.path(key))
	if err != nil {
		return ""
	}
	return h.user
}

// replace writes rec as the record of key, whose file currently belongs to
// old ("" for no owner or an unreadable file), and keeps the user index in
// step: the new owner's marker is in place (and durable, unless NoSync is
// set) before the record is written, and the old owner's is removed only
// once the new record is in place. A crash at any point thus leaves stale
// markers at worst, never a record without its marker. The shard's lock
// must be held.
func (s *Store) replace(sh *shard, key string, rec session.Record, old string) error {
	if err := session.CheckUserID(rec.UserID); err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	created, replaced := false, false
	var err error
	if rec.UserID != "" {
		created, err = s.addMarker(rec.UserID, key, rec.UserID == old)
		if err != nil {
			err = fmt.Errorf("filestore: save: user index: %w", err)
		}
	}
	if err == nil {
		replaced, err = s.write(sh, key, rec)
	}
	if !replaced {
		if created && rec.UserID != old {
			// The previous record stands; the marker would only be stale.
			s.dropMarker(rec.UserID, key)
		}
		return err
	}
	if s.hooks.afterWrite != nil {
		s.hooks.afterWrite(key)
	}
	if old != rec.UserID {
		s.dropMarker(old, key)
	}
	return err
}

// Delete implements session.Store. It holds the shard's lock while it
// removes the file and, unless NoSync is set, syncs the directory so that a
// logged-out session stays deleted after a crash; then it removes the key's
// marker from its owner's index directory.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	sh := s.shardOf(key)
	if err := s.lock(ctx, sh); err != nil {
		return err
	}
	defer s.unlock(sh)
	if err := s.remove(sh, key, s.owner(sh, key)); err != nil {
		return fmt.Errorf("filestore: delete: %w", err)
	}
	return nil
}

// remove removes the file of key, whose owner is owner ("" for none),
// and, unless NoSync is set, syncs its directory; only then does it remove
// the owner's marker. A missing file is not an error. The shard's lock must
// be held.
func (s *Store) remove(sh *shard, key, owner string) error {
	err := os.Remove(sh.path(key))
	switch {
	case err == nil:
		err = s.syncDir(sh.dir)
	case errors.Is(err, fs.ErrNotExist):
		err = nil
	}
	if err != nil {
		return err
	}
	s.dropMarker(owner, key)
	return nil
}

// UpdateRecord implements session.Updater. fn runs once, under the shard's lock,
// which excludes every other Save, Delete and UpdateRecord of the shard from this
// process and from every other process sharing the directory; fn must
// therefore not call the store. A corrupt file is passed to fn as not
// found. A returned record that is already expired removes the file and its
// marker; otherwise the marker moves if the owner changed, as in Save. A
// returned UserID longer than 1 KiB fails with session.ErrUserIDTooLong and leaves
// the store unchanged.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	sh := s.shardOf(key)
	if err := s.lock(ctx, sh); err != nil {
		return err
	}
	defer s.unlock(sh)
	cur, found, err := s.read(ctx, sh.path(key))
	if err != nil {
		return fmt.Errorf("filestore: update: %w", err)
	}
	old := cur.UserID
	if found && cur.Expired(s.now()) {
		cur, found = session.Record{}, false
	}
	next, err := fn(cur, found)
	if err != nil {
		return err
	}
	if next.Expired(s.now()) {
		// Gone for Load either way; removing the file is cheaper than
		// writing one for the sweeper to remove.
		if err := s.remove(sh, key, old); err != nil {
			return fmt.Errorf("filestore: update: %w", err)
		}
		return nil
	}
	return s.replace(sh, key, next, old)
}

// writeBuffers recycles the buffers a header and its data are assembled
// in, so that a file is written with one write(2).
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, readBufSize); return &b }}

// maxPooledWrite is the largest record copied into a pooled buffer; larger
// ones are written as header then data.
const maxPooledWrite = 64 << 10

// write replaces the file of key with rec: temporary file, write, fsync,
// rename, fsync of the directory. The shard's lock must be held. It
// reports whether the new file took the place of the previous one, which
// is the case on success and when only the final sync failed. On any other
// error the previous file is untouched and the temporary file removed.
func (s *Store) write(sh *shard, key string, rec session.Record) (replaced bool, err error) {
	if uint64(len(rec.Data)) > maxDataLen {
		return false, fmt.Errorf("filestore: save: record of %d bytes is too large", len(rec.Data))
	}
	f, err := s.createTemp(sh)
	if err != nil {
		return false, fmt.Errorf("filestore: save: %w", err)
	}
	tmp := f.Name()
	if err := s.fill(f, rec); err != nil {
		f.Close()
		os.Remove(tmp)
		return false, fmt.Errorf("filestore: save: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("filestore: save: %w", err)
	}
	if err := rename(tmp, sh.path(key)); err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("filestore: save: %w", err)
	}
	if err := s.syncDir(sh.dir); err != nil {
		return true, fmt.Errorf("filestore: save: %w", err)
	}
	return true, nil
}

// createTemp creates a temporary file in the shard's directory, creating
// the directory first if it is missing (new, or removed by a sweep).
func (s *Store) createTemp(sh *shard) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := createTempFile(sh.dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return f, err
		}
		if err := s.mkdirs(sh.dir, 0); err != nil {
			return nil, err
		}
	}
}

// createTempFile creates a new file named tmpPrefix and a random suffix in
// dir, as os.CreateTemp does, through openFile.
func createTempFile(dir string) (*os.File, error) {
	for try := 0; ; try++ {
		name := dir + string(os.PathSeparator) + tmpPrefix + strconv.FormatUint(rand.Uint64(), 36)
		f, err := openFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}

// fill writes the header, user ID and data of rec to f and, unless NoSync
// is set, syncs it.
func (s *Store) fill(f *os.File, rec session.Record) error {
	if len(rec.Data) <= maxPooledWrite {
		bp := writeBuffers.Get().(*[]byte)
		b := appendHeader((*bp)[:0], rec.Expires, rec.UserID, rec.Data)
		b = append(b, rec.Data...)
		err := s.writeTo(f, b)
		*bp = b[:0]
		writeBuffers.Put(bp)
		if err != nil {
			return err
		}
	} else {
		h := appendHeader(make([]byte, 0, headerSize+len(rec.UserID)), rec.Expires, rec.UserID, rec.Data)
		if err := s.writeTo(f, h); err != nil {
			return err
		}
		if err := s.writeTo(f, rec.Data); err != nil {
			return err
		}
	}
	if s.noSync {
		return nil
	}
	return f.Sync()
}

func (s *Store) writeTo(f *os.File, b []byte) error {
	var err error
	if s.hooks.write != nil {
		_, err = s.hooks.write(f, b)
	} else {
		_, err = f.Write(b)
	}
	return err
}

// syncDir fsyncs dir, as the function syncDir does, unless NoSync is set.
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory, making the entries created, renamed or removed
// in it durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := openFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close makes later calls return session.ErrClosed and waits for writes in
// progress in this process to finish. It leaves the files in place. Close
// is idempotent.
func (s *Store) Close() error {
	if s.closed.Close() {
		return nil
	}
	// Taking each stripe waits for the write holding it; writers check
	// closed once they have the stripe, so none starts afterwards.
	s.waitStripes()
	return nil
}
