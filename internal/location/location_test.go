//go:build unix

package location

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sessionkv/session"
)

// nobody is the uid files are given to stand for another local user.
const nobody = 65534

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func chown(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	if err := os.Lchown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

func TestCheck_AcceptsPrivateLocations(t *testing.T) {
	base := t.TempDir() // 0700 in the sticky temp dir
	sticky := mkdir(t, filepath.Join(base, "sticky"), 0o777|os.ModeSticky)
	cases := map[string]struct {
		path string
		kind Kind
	}{
		"PrivateDirectory":    {mkdir(t, filepath.Join(base, "d"), 0o700), Dir},
		"ReadableDirectory":   {mkdir(t, filepath.Join(base, "r"), 0o755), Dir},
		"MissingFile":         {filepath.Join(base, "missing.db"), File},
		"OwnFile":             {writeFile(t, filepath.Join(base, "own.db"), 0o600), File},
		"OwnFileInStickyDir":  {writeFile(t, filepath.Join(sticky, "s.db"), 0o600), File},
		"NewFileInStickyDir":  {filepath.Join(sticky, "new.db"), File},
		"OwnLinkToPrivateDir": {symlink(t, filepath.Join(base, "d"), filepath.Join(base, "link")), Dir},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Check(c.path, c.kind); err != nil {
				t.Fatalf("Check(%s) = %v", c.path, err)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestCheck_RefusesLocationsOthersControl(t *testing.T) {
	cases := map[string]func(t *testing.T, base string) (string, Kind){
		"WorldWritableDirectory": func(t *testing.T, base string) (string, Kind) {
			return mkdir(t, filepath.Join(base, "d"), 0o777), Dir
		},
		"GroupWritableDirectory": func(t *testing.T, base string) (string, Kind) {
			return mkdir(t, filepath.Join(base, "d"), 0o770), Dir
		},
		"StickyStoreDirectory": func(t *testing.T, base string) (string, Kind) {
			return mkdir(t, filepath.Join(base, "d"), 0o777|os.ModeSticky), Dir
		},
		"WorldWritableFile": func(t *testing.T, base string) (string, Kind) {
			return writeFile(t, filepath.Join(base, "s.db"), 0o666), File
		},
		"FileInSharedDirectory": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "shared"), 0o777)
			return filepath.Join(d, "s.db"), File
		},
		"DirectoryUnderSharedDirectory": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "shared"), 0o777)
			return mkdir(t, filepath.Join(d, "sessions"), 0o700), Dir
		},
		"OwnLinkToSharedDirectory": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "shared"), 0o777)
			return symlink(t, d, filepath.Join(base, "link")), Dir
		},
		"FileOfAnotherUser": func(t *testing.T, base string) (string, Kind) {
			p := writeFile(t, filepath.Join(base, "s.db"), 0o600)
			chown(t, p)
			return p, File
		},
		"DirectoryOfAnotherUser": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "d"), 0o700)
			chown(t, d)
			return d, Dir
		},
		"ParentOfAnotherUser": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "theirs"), 0o755)
			own := mkdir(t, filepath.Join(d, "sessions"), 0o700)
			chown(t, d)
			return own, Dir
		},
		"LinkOfAnotherUser": func(t *testing.T, base string) (string, Kind) {
			d := mkdir(t, filepath.Join(base, "d"), 0o700)
			l := symlink(t, d, filepath.Join(base, "link"))
			chown(t, l)
			return l, Dir
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			path, kind := setup(t, t.TempDir())
			err := Check(path, kind)
			if !errors.Is(err, session.ErrUnsafeLocation) {
				t.Fatalf("Check(%s) = %v, want ErrUnsafeLocation", path, err)
			}
		})
	}
}

func TestCheck_WrongKindOrMissing(t *testing.T) {
	base := t.TempDir()
	file := writeFile(t, filepath.Join(base, "f"), 0o600)
	if err := Check(file, Dir); err == nil {
		t.Error("a regular file passed as a store directory")
	}
	if err := Check(base, File); err == nil {
		t.Error("a directory passed as a store file")
	}
	if err := Check(filepath.Join(base, "missing"), Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v, want ErrNotExist", err)
	}
	if err := Check(filepath.Join(file, "x.db"), File); err == nil {
		t.Error("a file under a regular file passed")
	}
}

func TestCheck_LinkLoopEnds(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	symlink(t, b, a)
	symlink(t, a, b)
	if err := Check(a, Dir); err == nil {
		t.Fatal("a symbolic link loop passed")
	}
}

// TestCheck_DotDotInsideALinkTargetFollowsTheKernel: a link whose target
// holds ".." after another link ("sub/../x", with sub leading into a
// directory every user can write) is resolved as the kernel resolves it,
// from sub's target, not cleaned lexically into the private directory.
func TestCheck_DotDotInsideALinkTargetFollowsTheKernel(t *testing.T) {
	d := t.TempDir()
	evil := mkdir(t, filepath.Join(d, "evil"), 0o777)
	mkdir(t, filepath.Join(evil, "inner"), 0o700)
	symlink(t, filepath.Join(evil, "inner"), filepath.Join(d, "sub"))
	l := symlink(t, "sub/../x", filepath.Join(d, "L"))
	if err := Check(l, File); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Check(%s -> sub/../x, sub -> %s/inner) = %v, want ErrUnsafeLocation: the file lands in %s", l, evil, err, evil)
	}
	// A relative ".." target into a private directory still passes.
	mkdir(t, filepath.Join(d, "shared"), 0o700)
	mkdir(t, filepath.Join(d, "rel"), 0o700)
	ok := symlink(t, "../shared/x.db", filepath.Join(d, "rel", "x.db"))
	if err := Check(ok, File); err != nil {
		t.Errorf("Check(%s -> ../shared/x.db) = %v", ok, err)
	}
}
