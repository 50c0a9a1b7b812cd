//go:build unix

package location

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func defaultDirName() string { return "sessionkv-" + strconv.Itoa(os.Geteuid()) }

func check(path string, kind Kind) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return checkPath(abs, kind, os.Geteuid())
}

// checkPath walks abs from the root down, checking each directory above
// the store and then the store itself, the way the kernel resolves the
// path: a symbolic link is checked for its owner, and its target's
// components take its place, unresolved, so that a ".." in a target means
// the parent of the real directory reached so far, as it does to the
// kernel, never a lexical shortcut past a link.
func checkPath(abs string, kind Kind, uid int) error {
	todo := components(filepath.Clean(abs))
	cur := "/"
	if err := checkParent(cur, uid); err != nil {
		return err
	}
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur) // cur is a real, checked directory
			continue
		}
		next := filepath.Join(cur, name)
		last := len(todo) == 0
		fi, err := os.Lstat(next)
		if last && kind == File && errors.Is(err, fs.ErrNotExist) {
			return nil // the store will create it, private
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if owner := ownerOf(fi); owner != uid && owner != 0 {
				return fmt.Errorf("%w: %s is a symbolic link owned by uid %d, who can point it elsewhere", errUnsafe, next, owner)
			}
			if links++; links > maxLinks {
				return fmt.Errorf("%w: too many symbolic links in %s", errUnsafe, abs)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			todo = append(components(target), todo...)
			continue
		}
		cur = next
		switch {
		case !last:
			err = checkParent(cur, uid)
		case kind == Dir:
			err = checkStore(cur, fi, uid, "directory")
		default:
			err = checkStore(cur, fi, uid, "file")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// components splits a path into its names, "." and ".." included as they
// are.
func components(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// checkParent checks a directory above the store: owned by uid or root,
// and writable by nobody else unless sticky.
func checkParent(dir string, uid int) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if owner := ownerOf(fi); owner != uid && owner != 0 {
		return fmt.Errorf("%w: %s belongs to uid %d, who could replace what is inside", errUnsafe, dir, owner)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: %s is writable by other users (mode %v), who could replace what is inside", errUnsafe, dir, fi.Mode().Perm())
	}
	return nil
}

// checkStore checks the store's own file or directory: owned by uid and
// writable by no one else.
func checkStore(path string, fi fs.FileInfo, uid int, what string) error {
	switch {
	case what == "directory" && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	case what == "file" && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	if owner := ownerOf(fi); owner != uid {
		return fmt.Errorf("%w: the %s %s belongs to uid %d, not to this process (uid %d), and may hold sessions that user planted",
			errUnsafe, what, path, owner, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: the %s %s is writable by other users (mode %v), who could plant or change sessions",
			errUnsafe, what, path, fi.Mode().Perm())
	}
	return nil
}

func ownerOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// checkOpened checks the file f, opened from path: a regular file of uid,
// writable by no one else, with no other name (a hard link another user
// kept could reach it), and still the file at path, so that what was
// checked by name is what was opened.
func checkOpened(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	uid := os.Geteuid()
	if err := checkStore(path, fi, uid, "file"); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%w: the file %s has %d names (hard links), and another could be in a place others control",
			errUnsafe, path, st.Nlink)
	}
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		if owner := ownerOf(li); owner != uid && owner != 0 {
			return fmt.Errorf("%w: %s is a symbolic link owned by uid %d, who can point it elsewhere", errUnsafe, path, owner)
		}
	}
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(fi, now) {
		return fmt.Errorf("%w: %s was replaced or removed while it was being opened", errUnsafe, path)
	}
	return nil
}
