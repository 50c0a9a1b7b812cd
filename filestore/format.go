package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/sessionkv/session"
)

// A session file is a fixed header, the owner's user ID, then the record's
// data, all integers little-endian:
//
//	offset  size  field
//	0       4     magic "SKVS"
//	4       1     format version (formatVersion)
//	5       1     reserved, zero
//	6       2     user ID length u (uint16, at most maxUserIDLen)
//	8       8     expiry, Unix nanoseconds (int64)
//	16      4     data length n (uint32)
//	20      4     CRC-32C of the data
//	24      4     CRC-32C of bytes 0 to 23 followed by the user ID
//	28      u     user ID (Record.UserID, arbitrary bytes; empty for none)
//	28+u    n     data
//
// The sweeper and the user index read only the header and the user ID. The
// header checksum covers both, so the expiry, length and owner they rely on
// are verified without reading the data; the data checksum catches a torn or
// damaged body before anything decodes it. A file without a user ID is the
// header followed directly by the data.
const (
	headerSize    = 28
	formatVersion = 1
	magic         = "SKVS"

	// maxDataLen is the largest record the length field can describe.
	maxDataLen = math.MaxUint32

	// maxUserIDLen is the longest user ID a record may carry
	// (session.MaxUserIDLen), so that a
	// hostile value cannot blow up files, and the most a header makes a
	// reader fetch before its checksum is verified.
	maxUserIDLen = session.MaxUserIDLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errUnknownVersion marks a file written in a later format version. It is
// treated as missing, but the sweeper leaves it alone: a newer process
// sharing the directory may still be using it.
var errUnknownVersion = fmt.Errorf("%w: unknown file format version", session.ErrCorrupt)

// header is the parsed header of a session file, with its user ID.
type header struct {
	expires int64  // Unix nanoseconds
	user    string // the owner's user ID, "" for none
	length  uint32 // data length
	sum     uint32 // CRC-32C of the data
}

func (h header) expiresAt() time.Time { return time.Unix(0, h.expires) }

func (h header) expired(now time.Time) bool { return !now.Before(h.expiresAt()) }

// prefixSize is the size of the header and user ID, where the data starts.
func (h header) prefixSize() int { return headerSize + len(h.user) }

// minTime and maxTime bound what an int64 of Unix nanoseconds can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNano converts t to Unix nanoseconds, clamping times outside the range
// of int64 (such as the zero Time) instead of letting them wrap around.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// appendHeader appends to dst the header and user ID of a record of data
// owned by user and expiring at expires. len(data) must not exceed
// maxDataLen, nor len(user) maxUserIDLen.
func appendHeader(dst []byte, expires time.Time, user string, data []byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, formatVersion, 0)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(user)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(expires)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(data, castagnoli))
	dst = append(dst, 0, 0, 0, 0) // the header checksum, set below
	dst = append(dst, user...)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[24:], headerSum(h))
	return dst
}

// headerSum is the checksum of the header and user ID in b, skipping the
// field that holds it.
func headerSum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, b[headerSize:])
}

// prefixSize checks the magic, version and user ID length in the first
// headerSize bytes of b and returns how many bytes the header and user ID
// take together. Their checksum is left to parseHeader, once that many
// bytes are read.
func prefixSize(b []byte) (int, error) {
	if len(b) < headerSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than a header", session.ErrCorrupt, len(b))
	}
	if string(b[:4]) != magic {
		return 0, fmt.Errorf("%w: not a session file (magic %q)", session.ErrCorrupt, b[:4])
	}
	// A later version may lay out the rest of its header differently.
	if b[4] != formatVersion {
		return 0, fmt.Errorf("%w %d", errUnknownVersion, b[4])
	}
	u := int(binary.LittleEndian.Uint16(b[6:]))
	if u > maxUserIDLen {
		return 0, fmt.Errorf("%w: user ID of %d bytes, longer than %d", session.ErrCorrupt, u, maxUserIDLen)
	}
	return headerSize + u, nil
}

// parseHeader parses the header and user ID at the start of b. Every
// malformation gives an error wrapping session.ErrCorrupt.
func parseHeader(b []byte) (header, error) {
	n, err := prefixSize(b)
	if err != nil {
		return header{}, err
	}
	if len(b) < n {
		return header{}, fmt.Errorf("%w: %d bytes, shorter than the header and user ID (%d)", session.ErrCorrupt, len(b), n)
	}
	b = b[:n]
	if got, want := binary.LittleEndian.Uint32(b[24:]), headerSum(b); got != want {
		return header{}, fmt.Errorf("%w: header checksum %08x, want %08x", session.ErrCorrupt, got, want)
	}
	if b[5] != 0 {
		return header{}, fmt.Errorf("%w: reserved header byte is not zero", session.ErrCorrupt)
	}
	return header{
		expires: int64(binary.LittleEndian.Uint64(b[8:])),
		user:    string(b[headerSize:]),
		length:  binary.LittleEndian.Uint32(b[16:]),
		sum:     binary.LittleEndian.Uint32(b[20:]),
	}, nil
}

func checkData(h header, data []byte) error {
	if got := crc32.Checksum(data, castagnoli); got != h.sum {
		return fmt.Errorf("%w: data checksum %08x, want %08x", session.ErrCorrupt, got, h.sum)
	}
	return nil
}

// readBufSize is the size of the pooled buffer a file is first read into.
// Sessions are usually far smaller, so one read(2) gets the whole file. It
// must hold the largest header and user ID.
const readBufSize = 4 << 10

var readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readPrefix reads into buf, from the start of f, at least the header and
// user ID and at most len(buf) bytes, and parses them. It returns the
// header and how many bytes it read. A file too short for its header and
// user ID gives an error wrapping session.ErrCorrupt; a read error is
// returned as is.
func readPrefix(f *os.File, buf []byte) (header, int, error) {
	n, err := io.ReadAtLeast(f, buf, headerSize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return header{}, n, fmt.Errorf("%w: %d-byte file, shorter than a header", session.ErrCorrupt, n)
		}
		return header{}, n, err
	}
	p, err := prefixSize(buf[:n])
	if err != nil {
		return header{}, n, err
	}
	if n < p {
		m, err := io.ReadAtLeast(f, buf[n:], p-n)
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return header{}, n, fmt.Errorf("%w: %d-byte file, shorter than its header and user ID (%d)", session.ErrCorrupt, n, p)
			}
			return header{}, n, err
		}
	}
	h, err := parseHeader(buf[:n])
	return h, n, err
}

// readFile reads and checks the session file at path. It returns the
// open or read error as is (fs.ErrNotExist for a missing file), and an
// error wrapping session.ErrCorrupt for a file that is not a whole, intact
// session file. It never allocates more than the file's actual size.
func readFile(path string) (header, []byte, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return header{}, nil, err
	}
	defer f.Close()
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	h, n, err := readPrefix(f, buf)
	if err != nil {
		return h, nil, err
	}
	p := h.prefixSize()
	total := int64(p) + int64(h.length)
	if int64(n) > total {
		return h, nil, fmt.Errorf("%w: %d trailing bytes", session.ErrCorrupt, int64(n)-total)
	}
	if int64(n) < total || n == len(buf) {
		// Larger than the buffer, or truncated: trust the file's size, not
		// the header, before allocating.
		fi, err := f.Stat()
		if err != nil {
			return h, nil, err
		}
		if fi.Size() != total {
			return h, nil, fmt.Errorf("%w: file of %d bytes, header says %d", session.ErrCorrupt, fi.Size(), total)
		}
	}
	data := make([]byte, h.length)
	if m := copy(data, buf[p:n]); m < len(data) {
		if _, err := io.ReadFull(f, data[m:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return h, nil, fmt.Errorf("%w: file shrank while being read", session.ErrCorrupt)
			}
			return h, nil, err
		}
	}
	if err := checkData(h, data); err != nil {
		return h, nil, err
	}
	return h, data, nil
}

// readHeader reads and parses only the header and user ID of the file at
// path; the data is neither read nor checked.
func readHeader(path string) (header, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	h, _, err := readPrefix(f, (*bp)[:headerSize+maxUserIDLen])
	return h, err
}
