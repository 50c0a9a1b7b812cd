//go:build linux

package location_test

// Tests of the location rule and of boltstore's use of it. Each reproduces an
// attack and checks that it fails. They need root to play another user (uid
// 65534) and skip otherwise.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/location"
)

const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("playing another user needs root")
	}
}

func mkdirMode(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// reachable returns a temporary directory other users can traverse, as
// the directories above /tmp are.
func reachable(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// asOtherUser runs fn on a goroutine whose thread creates and opens files
// as uid/gid 65534 (setfsuid(2)), as another local user would. The thread
// is never unlocked, so it dies with the goroutine.
func asOtherUser(t *testing.T, fn func()) (wait func()) {
	t.Helper()
	needRoot(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		syscall.RawSyscall(syscall.SYS_SETFSGID, nobody, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, nobody, 0, 0)
		fn()
	}()
	return func() { <-done }
}

// heldByServer reports whether this process holds, through a descriptor
// other than the attacker's own, a file one of the attacker's descriptors
// kept refers to, and returns that attacker descriptor.
func heldByServer(t *testing.T, kept []int) (int, bool) {
	t.Helper()
	theirs := map[[2]uint64]int{}
	mine := map[string]bool{}
	for _, fd := range kept {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil {
			theirs[[2]uint64{st.Dev, st.Ino}] = fd
		}
		mine[fmt.Sprint(fd)] = true
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, e := range entries {
		if mine[e.Name()] {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/self/fd/"+e.Name(), &st) != nil {
			continue
		}
		if fd, ok := theirs[[2]uint64{st.Dev, st.Ino}]; ok {
			return fd, true
		}
	}
	return 0, false
}

// grows reports whether the file fd grows within d.
func grows(fd int, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil && st.Size > 0 {
			return true
		}
	}
	return false
}

func busyWait(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// TestCheck_DotDotAfterSymlinkIsTakenAsWritten: Check cleans the path
// lexically, so "current/.." is the directory holding current, whatever
// current links to, and judges that place; the stores open the same cleaned
// path (boltstore.Open, filestore.New), so what is checked is what is used.
// A deploy layout such as /srv/app/current -> releases/42 with the store at
// current/../shared/... then means /srv/app/shared, as its author meant.
func TestCheck_DotDotAfterSymlinkIsTakenAsWritten(t *testing.T) {
	base := t.TempDir()
	shared := mkdirMode(t, filepath.Join(base, "shared"), 0o777) // not sticky: anyone can replace what is inside
	mkdirMode(t, filepath.Join(shared, "release"), 0o700)
	mkdirMode(t, filepath.Join(base, "release"), 0o700)
	if err := os.Symlink(filepath.Join(shared, "release"), filepath.Join(base, "current")); err != nil {
		t.Fatal(err)
	}
	for p, kind := range map[string]location.Kind{
		filepath.Join(base, "current") + "/../s.db":     location.File,
		filepath.Join(base, "current") + "/../release":  location.Dir,
		filepath.Join(base, "current") + "/../shared/x": location.File,
	} {
		got, want := location.Check(p, kind), location.Check(filepath.Clean(p), kind)
		if (got == nil) != (want == nil) {
			t.Errorf("Check(%s) = %v, but Check of the cleaned path = %v", p, got, want)
		}
	}
}

// TestOpen_DotDotAfterSymlinkOpensWhatWasChecked: boltstore.Open cleans the
// path once and both checks and opens the cleaned one, so "current/../s.db"
// never lands beside current's target in a directory every user can write.
func TestOpen_DotDotAfterSymlinkOpensWhatWasChecked(t *testing.T) {
	base := t.TempDir()
	shared := mkdirMode(t, filepath.Join(base, "shared"), 0o777)
	mkdirMode(t, filepath.Join(shared, "release"), 0o700)
	if err := os.Symlink(filepath.Join(shared, "release"), filepath.Join(base, "current")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(base, "current") + "/../s.db"
	s, err := boltstore.Open(path, &boltstore.Options{Logger: quiet()})
	if err != nil {
		t.Fatalf("Open(%s) = %v; the cleaned path is private", path, err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(shared, "s.db")); err == nil {
		t.Errorf("Open(%s) made its database in %s, a directory of mode 0777", path, shared)
	}
	if _, err := os.Stat(filepath.Join(base, "s.db")); err != nil {
		t.Errorf("Open(%s) did not make its database at the cleaned path: %v", path, err)
	}
}

// TestOpen_FilePlantedAndUnlinkedAroundTheOpenIsRefused: another user who
// creates the file in a sticky directory (which the rule allows above a
// bolt file) between Open's check of the path and the open, and unlinks it
// once the server has written its new database into it, would keep every
// session in a file that user made and holds open. Open checks the file it
// opened (owner, mode, link count, and that it is still the file at the
// path), so it is refused. Kernels with fs.protected_regular=1 block the
// O_CREAT open of another user's file in a world-writable sticky directory
// anyway; the test needs it at 0 to run the race.
func TestOpen_FilePlantedAndUnlinkedAroundTheOpenIsRefused(t *testing.T) {
	needRoot(t)
	sticky := mkdirMode(t, filepath.Join(reachable(t), "tmp"), 0o777|os.ModeSticky)
	path := filepath.Join(sticky, "sessions.db")
	var stop atomic.Bool
	var mu sync.Mutex
	var kept []int // the attacker's descriptors of files it unlinked
	wait := asOtherUser(t, func() {
		for !stop.Load() {
			fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o666)
			if err != nil {
				continue // the server's own file is there; try again
			}
			syscall.Fchmod(fd, 0o666)
			// A server that opened the file writes a new database into it
			// at once: unlink it then, before the server checks the path
			// again, and stay away until it has.
			grown := grows(fd, 150*time.Microsecond)
			syscall.Unlink(path)
			mu.Lock()
			kept = append(kept, fd)
			mu.Unlock()
			if grown {
				time.Sleep(5 * time.Millisecond)
			}
			// Come back at a random moment of the server's next attempt.
			busyWait(time.Duration(60+rand.IntN(200)) * time.Microsecond)
		}
	})
	defer func() {
		stop.Store(true)
		wait()
		for _, fd := range kept {
			syscall.Close(fd)
		}
	}()
	deadline := time.Now().Add(3 * time.Second)
	opens := 0
	errs := map[string]int{}
	for time.Now().Before(deadline) {
		s, err := boltstore.Open(path, &boltstore.Options{Timeout: time.Second, NoSync: true, Logger: quiet()})
		if err != nil {
			errs[classify(err)]++
			continue // refused: the attacker's file was there at the first check
		}
		opens++
		// Is the database the server just opened a file the attacker
		// made and still holds open?
		mu.Lock()
		fd, theirs := heldByServer(t, kept)
		mu.Unlock()
		if theirs {
			marker := fmt.Sprintf("session-of-the-victim-%d", rand.Int64())
			rec := session.Record{Data: []byte(marker), Expires: time.Now().Add(time.Hour)}
			if err := s.Save(context.Background(), session.StoreKey("victim"), rec); err != nil {
				t.Fatal(err)
			}
			var st syscall.Stat_t
			syscall.Fstat(fd, &st)
			buf := make([]byte, st.Size)
			n, _ := syscall.Pread(fd, buf, 0)
			s.Close()
			t.Fatalf("after %d opens, Open accepted a file uid %d created in the sticky directory and unlinked after the open; "+
				"that user holds it open read-write and reads the session just saved in it: %v",
				opens, st.Uid, bytes.Contains(buf[:max(n, 0)], []byte(marker)))
		}
		s.Close()
		if fi, err := os.Lstat(path); err == nil && fi.Sys().(*syscall.Stat_t).Uid == 0 {
			os.Remove(path) // the server's own new file: start again
		}
	}
	t.Logf("no breach in %d successful opens; errors %v", opens, errs)
}

// TestCheck_SymlinkOfAnotherUserInStickyDirIsRefused: another user's symbolic
// link where the bolt file should be, in a sticky directory, pointing at a
// file the server owns, is refused (it could point elsewhere later).
func TestCheck_SymlinkOfAnotherUserInStickyDirIsRefused(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	sticky := mkdirMode(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
	own := filepath.Join(base, "own.db")
	if err := os.WriteFile(own, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(sticky, "sessions.db")
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := location.Check(link, location.File); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check = %v, want ErrUnsafeLocation", err)
	}
	s, err := boltstore.Open(link, &boltstore.Options{Logger: quiet()})
	if err == nil {
		s.Close()
		t.Fatal("Open followed another user's symbolic link")
	}
}

// TestCheck_IntermediateSymlinkOfAnotherUserIsRefused: a symbolic link on
// the way, owned by another user, is refused even when it points at a
// private directory today.
func TestCheck_IntermediateSymlinkOfAnotherUserIsRefused(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	private := mkdirMode(t, filepath.Join(base, "private"), 0o700)
	link := filepath.Join(base, "link")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := location.Check(filepath.Join(link, "s.db"), location.File); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check = %v, want ErrUnsafeLocation", err)
	}
}

// TestCheck_RelativePathIsChecked: a relative path is checked from the
// working directory, parents included.
func TestCheck_RelativePathIsChecked(t *testing.T) {
	base := t.TempDir()
	mkdirMode(t, filepath.Join(base, "open"), 0o777)
	t.Chdir(filepath.Join(base, "open"))
	if err := location.Check("s.db", location.File); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check(relative) = %v, want ErrUnsafeLocation", err)
	}
	if err := location.Check("./x/../s.db", location.File); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check(relative with ..) = %v, want ErrUnsafeLocation", err)
	}
}

// TestCheck_StickyStoreDirectoryIsRefused: SESSION_FILE_PATH pointing at
// a sticky, world-writable directory itself (/tmp), even one the server
// owns, is refused for the file store.
func TestCheck_StickyStoreDirectoryIsRefused(t *testing.T) {
	sticky := mkdirMode(t, filepath.Join(t.TempDir(), "tmp"), 0o777|os.ModeSticky)
	if err := location.Check(sticky, location.Dir); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check(sticky dir) = %v, want ErrUnsafeLocation", err)
	}
	if err := location.Check("/tmp", location.Dir); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check(/tmp) = %v, want ErrUnsafeLocation", err)
	}
}

// TestCheck_ACLGrantingWriteIsRefused: a POSIX ACL that lets another user
// write a 0700 directory shows in the group bits (the ACL mask), so the
// directory is refused; one whose mask withholds write grants none.
func TestCheck_ACLGrantingWriteIsRefused(t *testing.T) {
	needRoot(t)
	dir := mkdirMode(t, filepath.Join(t.TempDir(), "d"), 0o700)
	// user::rwx user:65534:rwx group::--- mask::rwx other::---
	acl := aclXattr([][3]uint32{{0x01, 7, 0xffffffff}, {0x02, 7, nobody}, {0x04, 0, 0xffffffff}, {0x10, 7, 0xffffffff}, {0x20, 0, 0xffffffff}})
	if err := syscall.Setxattr(dir, "system.posix_acl_access", acl, 0); err != nil {
		t.Skipf("no POSIX ACLs here: %v", err)
	}
	if err := location.Check(dir, location.Dir); !errors.Is(err, session.ErrUnsafeLocation) {
		fi, _ := os.Stat(dir)
		t.Fatalf("Check(dir with user:nobody:rwx, mode %v) = %v, want ErrUnsafeLocation", fi.Mode(), err)
	}
	// The same entry under a mask without write grants no write.
	acl = aclXattr([][3]uint32{{0x01, 7, 0xffffffff}, {0x02, 7, nobody}, {0x04, 0, 0xffffffff}, {0x10, 5, 0xffffffff}, {0x20, 0, 0xffffffff}})
	if err := syscall.Setxattr(dir, "system.posix_acl_access", acl, 0); err != nil {
		t.Fatal(err)
	}
	if err := location.Check(dir, location.Dir); err != nil {
		t.Fatalf("Check(dir with mask r-x) = %v", err)
	}
}

func aclXattr(entries [][3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

func classify(err error) string {
	switch {
	case errors.Is(err, session.ErrUnsafeLocation):
		return "unsafe"
	case errors.Is(err, boltstore.ErrLocked):
		return "locked"
	}
	return err.Error()
}
