package filestore

import (
	"bytes"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkv/session"
)

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestFormat_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, size := range []int{0, 1, 350, readBufSize - headerSize, readBufSize - headerSize + 1, readBufSize, 3 * readBufSize, 1 << 20} {
		data := bytes.Repeat([]byte{byte(size)}, size)
		file := encodeFile(exp, data)
		if len(file) != headerSize+size {
			t.Fatalf("size %d: file of %d bytes", size, len(file))
		}
		h, got, err := decodeFile(file)
		if err != nil || !bytes.Equal(got, data) || !h.expiresAt().Equal(exp) {
			t.Fatalf("decodeFile(size %d) = %v, %d bytes, %v", size, h.expiresAt(), len(got), err)
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		h, got, err = readFile(path)
		if err != nil || !bytes.Equal(got, data) || !h.expiresAt().Equal(exp) {
			t.Fatalf("readFile(size %d) = %v, %d bytes, %v", size, h.expiresAt(), len(got), err)
		}
		if h2, err := readHeader(path); err != nil || h2 != h {
			t.Fatalf("readHeader(size %d) = %+v, %v; want %+v", size, h2, err, h)
		}
		// Every truncation is detected.
		for _, cut := range []int{0, headerSize - 1, headerSize, len(file) - 1} {
			if cut < 0 || cut >= len(file) {
				continue
			}
			if err := os.WriteFile(path, file[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := readFile(path); !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("size %d cut at %d: readFile = %v, want ErrCorrupt", size, cut, err)
			}
		}
	}
}

// FuzzDecodeFile checks that no input makes the parsers panic, that readFile
// and decodeFile agree, and that what they accept re-encodes to itself.
func FuzzDecodeFile(f *testing.F) {
	f.Add(encodeFile(time.Unix(1700000000, 0), []byte("\x01\x00\x80")))
	f.Add(encodeFile(time.Time{}, nil))
	f.Add([]byte(magic))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := decodeFile(b)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("decodeFile error %v does not wrap ErrCorrupt", err)
			}
		} else if again := encodeFile(h.expiresAt(), data); !bytes.Equal(again, b) {
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
