package filestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
)

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// decodeFile parses a whole session file held in memory, the reference
// that readFile must agree with. The returned data aliases b.
func decodeFile(b []byte) (header, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, nil, err
	}
	p := h.prefixSize()
	if want := int64(p) + int64(h.length); int64(len(b)) != want {
		return h, nil, fmt.Errorf("%w: file of %d bytes, header says %d", session.ErrCorrupt, len(b), want)
	}
	data := b[p:]
	if err := checkData(h, data); err != nil {
		return h, nil, err
	}
	return h, data, nil
}

func TestFormat_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	users := []string{"", "alice", "\x00../\xff", strings.Repeat("u", maxUserIDLen)}
	sizes := []int{0, 1, 350, readBufSize - headerSize, readBufSize - headerSize + 1, readBufSize, 3 * readBufSize, 1 << 20}
	for _, user := range users {
		for _, size := range sizes {
			data := bytes.Repeat([]byte{byte(size)}, size)
			file := encodeUserFile(exp, user, data)
			if len(file) != headerSize+len(user)+size {
				t.Fatalf("size %d: file of %d bytes", size, len(file))
			}
			h, got, err := decodeFile(file)
			if err != nil || !bytes.Equal(got, data) || !h.expiresAt().Equal(exp) || h.user != user {
				t.Fatalf("decodeFile(size %d) = %v, %d bytes, %d-byte user, %v", size, h.expiresAt(), len(got), len(h.user), err)
			}
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
			h, got, err = readFile(path)
			if err != nil || !bytes.Equal(got, data) || !h.expiresAt().Equal(exp) || h.user != user {
				t.Fatalf("readFile(size %d) = %v, %d bytes, %d-byte user, %v", size, h.expiresAt(), len(got), len(h.user), err)
			}
			if h2, err := readHeader(path); err != nil || h2 != h {
				t.Fatalf("readHeader(size %d) = %+v, %v; want %+v", size, h2, err, h)
			}
			// Every truncation is detected, by readHeader too while it cuts
			// into the header or the user ID.
			for _, cut := range []int{0, headerSize - 1, headerSize, headerSize + len(user)/2, headerSize + len(user), len(file) - 1} {
				if cut < 0 || cut >= len(file) {
					continue
				}
				if err := os.WriteFile(path, file[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				if _, _, err := readFile(path); !errors.Is(err, session.ErrCorrupt) {
					t.Fatalf("size %d cut at %d: readFile = %v, want ErrCorrupt", size, cut, err)
				}
				if _, err := readHeader(path); cut < headerSize+len(user) && !errors.Is(err, session.ErrCorrupt) {
					t.Fatalf("size %d cut at %d: readHeader = %v, want ErrCorrupt", size, cut, err)
				}
			}
		}
	}
}

// TestFormat_WithoutUserID pins the layout of a record without an owner,
// byte for byte: the header, then the data.
func TestFormat_WithoutUserID(t *testing.T) {
	exp := time.Unix(1700000000, 0)
	data := []byte("\x01\x00\x80")
	file := encodeFile(exp, data)
	want := []byte(magic + "\x01\x00\x00\x00")
	want = binary.LittleEndian.AppendUint64(want, uint64(exp.UnixNano()))
	want = binary.LittleEndian.AppendUint32(want, uint32(len(data)))
	want = binary.LittleEndian.AppendUint32(want, crcOf(data))
	want = binary.LittleEndian.AppendUint32(want, crcOf(want))
	want = append(want, data...)
	if !bytes.Equal(file, want) {
		t.Errorf("file\n%x\nwant\n%x", file, want)
	}
}

// FuzzDecodeFile checks that no input makes the parsers panic, that readFile
// and decodeFile agree, and that what they accept re-encodes to itself.
func FuzzDecodeFile(f *testing.F) {
	f.Add(encodeFile(time.Unix(1700000000, 0), []byte("\x01\x00\x80")))
	f.Add(encodeFile(time.Time{}, nil))
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Add(encodeUserFile(time.Unix(1700000000, 0), "alice", []byte("data")))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := decodeFile(b)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("decodeFile error %v does not wrap ErrCorrupt", err)
			}
		} else if again := encodeUserFile(h.expiresAt(), h.user, data); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
		if _, herr := parseHeader(b); herr != nil && err == nil {
			t.Fatalf("parseHeader failed (%v) where decodeFile succeeded", herr)
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, rdata, rerr := readFile(path)
		if (err == nil) != (rerr == nil) || !bytes.Equal(data, rdata) {
			t.Fatalf("readFile = %d bytes, %v; decodeFile = %d bytes, %v", len(rdata), rerr, len(data), err)
		}
	})
}
