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

// A session file is a fixed header followed by the record's data, all
// integers little-endian:
//
//	offset  size  field
//	0       4     magic "SKVS"
//	4       1     format version (formatVersion)
//	5       3     reserved, zero
//	8       8     expiry, Unix nanoseconds (int64)
//	16      4     data length (uint32)
//	20      4     CRC-32C of the data
//	24      4     CRC-32C of bytes 0 to 23
//	28      n     data
//
// The sweeper reads only the header. Its own checksum guards the expiry and
// length it relies on, and the data checksum catches a torn or damaged body
// before anything decodes it.
const (
	headerSize    = 28
	formatVersion = 1
	magic         = "SKVS"

	// maxDataLen is the largest record the length field can describe.
	maxDataLen = math.MaxUint32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errUnknownVersion marks a file written in a later format version. It is
// treated as missing, but the sweeper leaves it alone: a newer process
// sharing the directory may still be using it.
var errUnknownVersion = fmt.Errorf("%w: unknown file format version", session.ErrCorrupt)

// header is the parsed fixed header of a session file.
type header struct {
	expires int64  // Unix nanoseconds
	length  uint32 // data length
	sum     uint32 // CRC-32C of the data
}

func (h header) expiresAt() time.Time { return time.Unix(0, h.expires) }

func (h header) expired(now time.Time) bool { return !now.Before(h.expiresAt()) }

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

// appendHeader appends the header describing data, expiring at expires, to
// dst. len(data) must not exceed maxDataLen.
func appendHeader(dst []byte, expires time.Time, data []byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, formatVersion, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano(expires)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(data, castagnoli))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// parseHeader parses the first headerSize bytes of b. Every malformation
// gives an error wrapping session.ErrCorrupt.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, fmt.Errorf("%w: %d bytes, shorter than a header", session.ErrCorrupt, len(b))
	}
	b = b[:headerSize]
	if string(b[:4]) != magic {
		return header{}, fmt.Errorf("%w: not a session file (magic %q)", session.ErrCorrupt, b[:4])
	}
	// A later version may lay out the rest of its header differently.
	if b[4] != formatVersion {
		return header{}, fmt.Errorf("%w %d", errUnknownVersion, b[4])
	}
	if got, want := binary.LittleEndian.Uint32(b[24:]), crc32.Checksum(b[:24], castagnoli); got != want {
		return header{}, fmt.Errorf("%w: header checksum %08x, want %08x", session.ErrCorrupt, got, want)
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return header{}, fmt.Errorf("%w: reserved header bytes are not zero", session.ErrCorrupt)
	}
	return header{
		expires: int64(binary.LittleEndian.Uint64(b[8:])),
		length:  binary.LittleEndian.Uint32(b[16:]),
		sum:     binary.LittleEndian.Uint32(b[20:]),
	}, nil
}

// decodeFile parses a whole session file held in memory. The returned data
// aliases b.
func decodeFile(b []byte) (header, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if want := int64(headerSize) + int64(h.length); int64(len(b)) != want {
		return h, nil, fmt.Errorf("%w: file of %d bytes, header says %d", session.ErrCorrupt, len(b), want)
	}
	data := b[headerSize:]
	if err := checkData(h, data); err != nil {
		return h, nil, err
	}
	return h, data, nil
}

func checkData(h header, data []byte) error {
	if got := crc32.Checksum(data, castagnoli); got != h.sum {
		return fmt.Errorf("%w: data checksum %08x, want %08x", session.ErrCorrupt, got, h.sum)
	}
	return nil
}

// readBufSize is the size of the pooled buffer a file is first read into.
// Sessions are usually far smaller, so one read(2) gets the whole file.
const readBufSize = 4 << 10

var readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readFile reads and checks the session file at path. It returns the
// os.Open or read error as is (fs.ErrNotExist for a missing file), and an
// error wrapping session.ErrCorrupt for a file that is not a whole, intact
// session file. It never allocates more than the file's actual size.
func readFile(path string) (header, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return header{}, nil, err
	}
	defer f.Close()
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	n, err := io.ReadAtLeast(f, buf, headerSize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return header{}, nil, fmt.Errorf("%w: %d-byte file, shorter than a header", session.ErrCorrupt, n)
		}
		return header{}, nil, err
	}
	h, err := parseHeader(buf[:n])
	if err != nil {
		return h, nil, err
	}
	total := int64(headerSize) + int64(h.length)
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
	if m := copy(data, buf[headerSize:n]); m < len(data) {
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

// readHeader reads and parses only the header of the file at path.
func readHeader(path string) (header, error) {
	f, err := os.Open(path)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	var b [headerSize]byte
	n, err := io.ReadFull(f, b[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return header{}, fmt.Errorf("%w: %d-byte file, shorter than a header", session.ErrCorrupt, n)
		}
		return header{}, err
	}
	return parseHeader(b[:])
}
