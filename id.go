package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// idBytes is the entropy of a session ID: 256 bits from crypto/rand.
const idBytes = 32

// idLen is the length of an ID in unpadded base64url.
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

var idEncoding = base64.RawURLEncoding.Strict()

// newID returns a fresh session ID: 32 bytes from crypto/rand, base64url
// without padding (43 characters).
func newID() string {
	var b [idBytes]byte
	// crypto/rand.Read never fails; on a broken system it crashes the
	// program rather than return predictable bytes.
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether id has the exact shape of an ID this package issues:
// 43 characters of unpadded base64url that decode to 32 bytes. Anything else
// from a cookie is dropped before a store is touched.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// The last character carries 2 padding bits that must be zero (Strict);
	// rejecting the other spellings keeps one ID per session.
	var b [idBytes]byte
	n, err := idEncoding.Decode(b[:], []byte(id))
	return err == nil && n == idBytes
}

// StoreKey returns the key under which the session with the given ID is
// stored: the hex SHA-256 of the ID. A leaked database or directory listing
// therefore holds no usable cookie, and no server-side store ever sees
// client input as a key or file name (a Sealer's keys are its cookie
// values). It does not validate id.
func StoreKey(id string) string {
	var sum [sha256.Size]byte
	if len(id) <= 64 {
		// An ID of the usual length (43 bytes; Django's, 32) is hashed
		// from the stack.
		var b [64]byte
		sum = sha256.Sum256(b[:copy(b[:], id)])
	} else {
		sum = sha256.Sum256([]byte(id))
	}
	var key [2 * sha256.Size]byte
	hex.Encode(key[:], sum[:])
	return string(key[:])
}

// ValidStoreKey reports whether key has the shape of StoreKey's output: 64
// lowercase hexadecimal digits.
func ValidStoreKey(key string) bool {
	if len(key) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IDScheme decides what session IDs look like and how an ID becomes the
// key of its record in a server-side store. The engine's own scheme,
// DefaultIDs, issues 256-bit random IDs and stores each record under the
// SHA-256 of its ID; another scheme lets sessions be shared with a program
// that has its own (Django's, in package djangosession). Implementations
// must be safe for concurrent use.
type IDScheme interface {
	// NewID returns a fresh, unguessable session ID.
	NewID() string
	// ValidID reports whether a cookie value has the shape of an ID this
	// scheme issues: anything else is dropped before a store is touched.
	ValidID(id string) bool
	// StoreKey returns the key under which the session with the given
	// (valid) ID is stored.
	StoreKey(id string) string
}

// DefaultIDs is the engine's own IDScheme: IDs are 32 bytes from
// crypto/rand in unpadded base64url (see ValidID), and records are stored
// under StoreKey(id), so that a leaked store holds no usable cookie.
var DefaultIDs IDScheme = defaultIDs{}

type defaultIDs struct{}

func (defaultIDs) NewID() string             { return newID() }
func (defaultIDs) ValidID(id string) bool    { return ValidID(id) }
func (defaultIDs) StoreKey(id string) string { return StoreKey(id) }
