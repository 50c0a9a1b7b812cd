package filestore

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// encodeFile returns the on-disk form of a record without an owner.
func encodeFile(expires time.Time, data []byte) []byte {
	return encodeUserFile(expires, "", data)
}

// encodeUserFile returns the on-disk form of a record owned by user.
func encodeUserFile(expires time.Time, user string, data []byte) []byte {
	return append(appendHeader(nil, expires, user, data), data...)
}

// writeRaw puts content at the path of key, bypassing the store.
func writeRaw(t testing.TB, s *Store, key string, content []byte) {
	t.Helper()
	sh := s.shardOf(key)
	if err := os.MkdirAll(sh.dir, dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sh.path(key), content, filePerm); err != nil {
		t.Fatal(err)
	}
}

func TestStore_RefusesHostileKeys(t *testing.T) {
	base := t.TempDir()
	s, err := New(filepath.Join(base, "a", "b", "sessions"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	valid := storetest.Key("valid")
	id := newTestID(t)
	keys := map[string]string{
		"Traversal":          "../../etc/passwd",
		"LongTraversal":      strings.Repeat("../", 200) + "etc/passwd",
		"TraversalOf64Bytes": "../../" + valid[6:],
		"Absolute":           "/etc/passwd",
		"AbsoluteOf64Bytes":  "/" + valid[1:],
		"Empty":              "",
		"Short":              valid[:63],
		"Long":               valid + "0",
		"VeryLong":           strings.Repeat("a", 1<<20),
		"NUL":                valid[:30] + "\x00" + valid[31:],
		"TrailingNUL":        valid[:63] + "\x00",
		"Newline":            valid[:63] + "\n",
		"Slash":              valid[:32] + "/" + valid[33:],
		"Dot":                valid[:63] + ".",
		"Uppercase":          strings.ToUpper(valid),
		"NonASCII":           valid[:62] + "é",
		"SessionIDNotKey":    id,
	}
	before := tree(t, base)
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, ErrInvalidKey) || errors.Is(err, session.ErrNotFound) {
					t.Errorf("%s = %v, want ErrInvalidKey", op, err)
				}
				if err != nil && (len(err.Error()) > 200 || strings.ContainsAny(err.Error(), "\x00\n/")) {
					t.Errorf("%s error echoes the key: %q", op, err)
				}
			}
			_, err := s.Load(ctx, key)
			check("Load", err)
			check("Save", s.Save(ctx, key, session.Record{Data: []byte("pwned"), Expires: time.Now().Add(time.Hour)}))
			check("Delete", s.Delete(ctx, key))
			called := false
			check("Update", s.UpdateRecord(ctx, key, func(session.Record, bool) (session.Record, error) {
				called = true
				return session.Record{Data: []byte("pwned"), Expires: time.Now().Add(time.Hour)}, nil
			}))
			if called {
				t.Error("Update called fn for an invalid key")
			}
		})
	}
	if after := tree(t, base); !slices.Equal(before, after) {
		t.Errorf("hostile keys changed the file system:\nbefore %v\nafter  %v", before, after)
	}
}

// TestStore_CorruptFilesLoadAsMissing replaces a session file by damaged or
// foreign content: every case loads as missing with a warning, UpdateRecord sees
// no record, Range skips it, and nothing panics or allocates the size a
// hostile header claims.
func TestStore_CorruptFilesLoadAsMissing(t *testing.T) {
	live := time.Now().Add(time.Hour)
	valid := encodeFile(live, []byte("a perfectly good session record"))
	flip := func(i int) []byte {
		b := bytes.Clone(valid)
		b[i] ^= 0x40
		return b
	}
	garbage := make([]byte, 300)
	rand.Read(garbage)
	hugeLength := bytes.Clone(valid[:headerSize])
	binary.LittleEndian.PutUint32(hugeLength[16:], 0xffffffff)
	binary.LittleEndian.PutUint32(hugeLength[24:], crcOf(hugeLength[:24]))
	hugeLength = append(hugeLength, "tiny"...)
	futureVersion := bytes.Clone(valid)
	futureVersion[4] = formatVersion + 1
	// The same record owned by a user, then damaged in its user ID section.
	owned := encodeUserFile(live, "alice@example.com", []byte("a perfectly good session record"))
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[24:], headerSum(b[:min(len(b), headerSize+int(binary.LittleEndian.Uint16(b[6:])))]))
		return b
	}
	userIDLen := func(n uint16) []byte {
		b := bytes.Clone(owned)
		binary.LittleEndian.PutUint16(b[6:], n)
		return b
	}
	userIDFlip := bytes.Clone(owned)
	userIDFlip[headerSize+2] ^= 0x01
	reserved := bytes.Clone(owned)
	reserved[5] = 1

	cases := map[string][]byte{
		"Garbage":         garbage,
		"ZeroLength":      {},
		"ShortHeader":     valid[:10],
		"HeaderOnly":      valid[:headerSize],
		"TruncatedData":   valid[:len(valid)-5],
		"TrailingBytes":   append(bytes.Clone(valid), "xx"...),
		"DataBitFlip":     flip(headerSize + 3),
		"ExpiryBitFlip":   flip(9),
		"LengthBitFlip":   flip(16),
		"ForeignMagic":    append([]byte("PK\x03\x04"), valid[4:]...),
		"HugeLength":      hugeLength,
		"FutureVersion":   futureVersion,
		"TextFile":        []byte("root:x:0:0:root:/root:/bin/sh\n"),
		"LargeAllGarbage": bytes.Repeat(garbage, 100),

		"UserIDBitFlip":             userIDFlip,
		"UserIDTruncated":           owned[:headerSize+3],
		"UserIDLengthOverLimit":     resum(append(userIDLen(maxUserIDLen+1), bytes.Repeat([]byte("u"), maxUserIDLen)...)),
		"UserIDLengthMax":           userIDLen(0xffff),
		"UserIDLengthShorter":       userIDLen(5),
		"UserIDLengthShorterResum":  resum(userIDLen(5)),
		"UserIDLengthPastFileResum": resum(userIDLen(maxUserIDLen)),
		"ReservedByteResum":         resum(reserved),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			s, logs := newTestStore(t, nil)
			ctx := t.Context()
			k := storetest.Key(name)
			writeRaw(t, s, k, content)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rec, err := s.Load(ctx, k)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Load = %q, %v; want ErrNotFound", rec.Data, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("Load allocated %d bytes for a %d-byte file", grew, len(content))
			}
			if !strings.Contains(logs.String(), "corrupt session file") || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("no warning logged; logs: %s", logs)
			}
			err = s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
				if found {
					t.Errorf("Update passed the corrupt file as found: %q", cur.Data)
				}
				return session.Record{}, errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Errorf("Update = %v", err)
			}
			err = s.Range(ctx, func(key string, rec session.Record) bool {
				t.Errorf("Range yielded the corrupt file: %q", rec.Data)
				return true
			})
			if err != nil {
				t.Errorf("Range = %v", err)
			}
			// A Save replaces the damaged file.
			if err := s.Save(ctx, k, session.Record{Data: []byte("fresh"), Expires: live}); err != nil {
				t.Fatal(err)
			}
			if rec, err := s.Load(ctx, k); err != nil || string(rec.Data) != "fresh" {
				t.Errorf("Load after Save = %q, %v", rec.Data, err)
			}
		})
	}
}

var errAbort = errors.New("abort")

// TestEngine_HostileMsgpackHeader stores, behind a valid file header, a
// record whose msgpack map claims 2^31 entries: the engine loads an empty
// session, without panicking or allocating for the claim.
func TestEngine_HostileMsgpackHeader(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	engineLogs := &testkit.LogBuffer{}
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	opts.Logger = slog.New(slog.NewTextHandler(engineLogs, nil))
	e, err := session.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	sess, _ := e.Load(ctx, "")
	sess.Set("user", "sonam")
	if err := e.Save(ctx, sess); err != nil {
		t.Fatal(err)
	}
	id := sess.ID()
	// Record envelope version 1, default expiry, then a map32 header of
	// 2^31 entries and nothing else.
	hostile := []byte{1, 0, 0xdf, 0x80, 0x00, 0x00, 0x00}
	writeRaw(t, s, session.StoreKey(id), encodeFile(time.Now().Add(time.Hour), hostile))

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := e.Load(ctx, id)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if got.ID() != "" || !got.IsEmpty() || got.Len() != 0 {
		t.Errorf("Load gave ID %q with %d keys; want a new empty session", got.ID(), got.Len())
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("Load allocated %d bytes", grew)
	}
	if !strings.Contains(engineLogs.String(), "level=WARN") {
		t.Errorf("the engine logged no warning: %s", engineLogs)
	}
}

func newTestID(t testing.TB) string {
	t.Helper()
	var b [32]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	if !session.ValidID(id) {
		t.Fatalf("%q is not a valid ID", id)
	}
	return id
}
