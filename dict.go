package session

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// dict is a session's dictionary, built so that a request costs what it
// touches rather than what the session holds.
//
// What a load found stays encoded: raw is the codec's encoding of the
// values and entries its index, made by one validating pass (indexMsgpack),
// and a value is decoded the first time it is read. What the session sets
// or deletes goes to the overlay, which shadows raw: setting or deleting a
// key marks its raw entries dead. A commit copies the bytes of the entries
// still alive and encodes only the overlay (appendMsgpack, mergeMsgpack).
//
// For a codec whose encoding cannot be indexed (JSON, Django's, a custom
// one) a load decodes every value into the overlay and raw stays empty.
//
// A dict must not be copied: its slices may point into its own arrays,
// which spare a small session any allocation for them.
type dict struct {
	raw     []byte      // the codec's encoding as loaded, or nil
	buf     *[]byte     // the recycled buffer raw lies in, or nil
	entries []rawEntry  // raw's entries in order; a later one wins over an earlier one with its key
	pooled  *[]rawEntry // the recycled slice entries lies in, or nil
	// rawIdx maps each key of raw to its last entry, built once a large
	// index has been searched often enough that scanning would cost more;
	// rawDupes: raw repeats a key. scans counts the searches before that.
	rawIdx   map[string]int32
	rawDupes bool
	scans    int
	live     int // entries not dead
	// savedSince: a save since raw was loaded, so dead entries are no
	// longer exactly the changes a commit must make.
	savedSince bool
	decoded    []any // values of raw's entries read so far (rawEntry.cached)
	over       []overEntry
	overIdx    map[string]int // position in over by key, once over is long

	decodedBuf [2]any
	overBuf    [4]overEntry
}

// overEntry is a value set, or a key deleted, since the load; for a codec
// that cannot be indexed, also each loaded value.
type overEntry struct {
	key     string
	v       any
	deleted bool
	changed bool // set or deleted since the last save
}

// overIndexFrom is the overlay length from which it keeps a map by key.
const overIndexFrom = 8

// reset empties d.
func (d *dict) reset() {
	d.dropRaw()
	clear(d.over)
	d.over, d.overIdx = d.overBuf[:0], nil
}

// dropRaw forgets raw and what was read from it, keeping the overlay, and
// recycles raw's buffer: nothing d handed out points into raw (decoded
// values are copies).
func (d *dict) dropRaw() {
	if d.buf != nil {
		putEncodeBuffer(d.buf)
	}
	clear(d.entries)
	if d.pooled != nil {
		*d.pooled = d.entries[:0]
		putEntries(d.pooled)
	}
	clear(d.decoded)
	d.raw, d.buf, d.entries, d.live, d.pooled = nil, nil, nil, 0, nil
	d.savedSince = false
	d.rawIdx, d.rawDupes, d.scans = nil, false, 0
	d.decoded = d.decodedBuf[:0]
}

// index loads the encoded values data, which d keeps, checking its whole
// structure. buf, if not nil, is the recycled buffer data lies in, which d
// gives back when it drops data. On error d is left empty and buf is still
// the caller's.
func (d *dict) index(data []byte, buf *[]byte) error {
	d.reset()
	return d.indexRaw(data, buf)
}

// indexRaw is index keeping the overlay: its keys shadow data's.
func (d *dict) indexRaw(data []byte, buf *[]byte) error {
	d.dropRaw()
	// The index comes from a pool: a request's session gives it back at
	// the end of the request (Session.release), and the next one reuses it.
	pooled := getEntries()
	entries, err := indexMsgpack(*pooled, data)
	if err != nil {
		clear(entries)
		*pooled = entries[:0]
		putEntries(pooled)
		return err
	}
	d.raw, d.buf, d.entries, d.live, d.pooled = data, buf, entries, len(entries), pooled
	for i := range d.over {
		d.shadow(d.over[i].key)
	}
	// Entries the overlay shadows without a change since the last save
	// must not be taken for changes (mergeMsgpack).
	d.savedSince = len(d.over) > 0
	return nil
}

// fill loads values decoded by a codec that cannot be indexed.
func (d *dict) fill(values map[string]any) {
	d.reset()
	for k, v := range values {
		d.appendOver(overEntry{key: k, v: v})
	}
}

// appendOver adds a new overlay entry.
func (d *dict) appendOver(o overEntry) {
	d.over = append(d.over, o)
	switch {
	case d.overIdx != nil:
		d.overIdx[o.key] = len(d.over) - 1
	case len(d.over) >= overIndexFrom:
		d.overIdx = make(map[string]int, 2*len(d.over))
		for i := range d.over {
			d.overIdx[d.over[i].key] = i
		}
	}
}

// find returns the overlay entry of key, or nil.
func (d *dict) find(key string) *overEntry {
	if d.overIdx != nil {
		if i, ok := d.overIdx[key]; ok {
			return &d.over[i]
		}
		return nil
	}
	for i := range d.over {
		if d.over[i].key == key {
			return &d.over[i]
		}
	}
	return nil
}

// findBytes is find for a key in raw bytes, without allocating.
func (d *dict) findBytes(key []byte) *overEntry {
	if d.overIdx != nil {
		if i, ok := d.overIdx[string(key)]; ok {
			return &d.over[i]
		}
		return nil
	}
	for i := range d.over {
		if d.over[i].key == string(key) {
			return &d.over[i]
		}
	}
	return nil
}

// rawKey returns the bytes of e's key.
func (d *dict) rawKey(e *rawEntry) []byte { return d.raw[e.key:e.val] }

// Past rawIndexScans searches of an index of more than rawIndexFrom
// entries, a dict maps the keys: a request that reads or sets a handful of
// keys scans, one that walks them all (Keys, then Get of each) does not
// pay a scan per key.
const (
	rawIndexFrom  = 64
	rawIndexScans = 16
)

// scanned counts a search of the index and maps its keys once searching
// has cost enough; it reports whether rawIdx is there.
func (d *dict) scanned() bool {
	if d.rawIdx != nil {
		return true
	}
	if d.scans++; d.scans <= rawIndexScans || len(d.entries) <= rawIndexFrom {
		return false
	}
	d.rawIdx = make(map[string]int32, len(d.entries))
	for i := range d.entries {
		e := &d.entries[i]
		if e.dead {
			continue
		}
		k := string(d.rawKey(e))
		if _, ok := d.rawIdx[k]; ok {
			d.rawDupes = true
		}
		d.rawIdx[k] = int32(i)
	}
	return true
}

// findRaw returns the live raw entry of key, or nil.
func (d *dict) findRaw(key string) *rawEntry {
	if d.live == 0 {
		return nil
	}
	if d.scanned() {
		// shadow kills every entry of a key at once, so the last one is
		// live if any is.
		if i, ok := d.rawIdx[key]; ok && !d.entries[i].dead {
			return &d.entries[i]
		}
		return nil
	}
	for i := len(d.entries) - 1; i >= 0; i-- {
		e := &d.entries[i]
		if !e.dead && e.keyLen() == len(key) && string(d.rawKey(e)) == key {
			return e
		}
	}
	return nil
}

// get returns the value of key, decoding it if it is still encoded. An
// error means raw's bytes did not decode although the index pass accepted
// them.
func (d *dict) get(key string) (any, bool, error) {
	if o := d.find(key); o != nil {
		return o.v, !o.deleted, nil
	}
	e := d.findRaw(key)
	if e == nil {
		return nil, false, nil
	}
	v, err := d.decode(e)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// decode returns e's value, decoding it on the first call.
func (d *dict) decode(e *rawEntry) (any, error) {
	if e.cached > 0 {
		return d.decoded[e.cached-1], nil
	}
	v, err := decodeMsgpackValue(d.raw[e.val:e.end], 0)
	if err != nil {
		return nil, err
	}
	d.decoded = append(d.decoded, v)
	e.cached = uint32(len(d.decoded))
	return v, nil
}

// rawInt reads key's value straight from raw when it is an integer there
// that has not been decoded yet, so that reading it boxes nothing; read is
// false when it is not. ok is false for an integer above math.MaxInt64 (a
// uint64 in the type model), as GetInt64 reports it.
func (d *dict) rawInt(key string) (n int64, ok, read bool) {
	if d.live == 0 || d.find(key) != nil {
		return 0, false, false
	}
	e := d.findRaw(key)
	if e == nil || e.cached > 0 {
		return 0, false, false
	}
	b := d.raw[e.val:e.end] // checked by the index pass: the code's whole size
	c := b[0]
	switch {
	case c <= msgpcode.PosFixedNumHigh:
		return int64(c), true, true
	case c >= msgpcode.NegFixedNumLow:
		return int64(int8(c)), true, true
	case c == msgpcode.Int8:
		return int64(int8(b[1])), true, true
	case c == msgpcode.Int16:
		return int64(int16(binary.BigEndian.Uint16(b[1:]))), true, true
	case c == msgpcode.Int32:
		return int64(int32(binary.BigEndian.Uint32(b[1:]))), true, true
	case c == msgpcode.Int64:
		return int64(binary.BigEndian.Uint64(b[1:])), true, true
	case c == msgpcode.Uint8:
		return int64(b[1]), true, true
	case c == msgpcode.Uint16:
		return int64(binary.BigEndian.Uint16(b[1:])), true, true
	case c == msgpcode.Uint32:
		return int64(binary.BigEndian.Uint32(b[1:])), true, true
	case c == msgpcode.Uint64:
		u := binary.BigEndian.Uint64(b[1:])
		if u > math.MaxInt64 {
			return 0, false, true
		}
		return int64(u), true, true
	}
	return 0, false, false
}

// has reports whether key has a value, without decoding it.
func (d *dict) has(key string) bool {
	if o := d.find(key); o != nil {
		return !o.deleted
	}
	return d.findRaw(key) != nil
}

// set gives key the value v.
func (d *dict) set(key string, v any) { d.change(overEntry{key: key, v: v, changed: true}) }

// del removes key. Like set, it counts as a change whether or not key had
// a value here: a commit removes it from the stored record too.
func (d *dict) del(key string) { d.change(overEntry{key: key, deleted: true, changed: true}) }

// change puts o in the overlay, over raw's entries of its key.
func (d *dict) change(o overEntry) {
	d.shadow(o.key)
	if cur := d.find(o.key); cur != nil {
		*cur = o
		return
	}
	d.appendOver(o)
}

// shadow marks every raw entry of key dead.
func (d *dict) shadow(key string) {
	if d.live == 0 {
		return
	}
	if d.scanned() && !d.rawDupes {
		if i, ok := d.rawIdx[key]; ok && !d.entries[i].dead {
			d.kill(&d.entries[i])
		}
		return
	}
	for i := range d.entries {
		e := &d.entries[i]
		if e.dead || e.keyLen() != len(key) || string(d.rawKey(e)) != key {
			continue
		}
		d.kill(e)
	}
}

// kill marks e dead.
func (d *dict) kill(e *rawEntry) {
	e.dead = true
	if e.cached > 0 {
		d.decoded[e.cached-1] = nil
	}
	d.live--
}

// saved forgets which entries changed: they are in the store now.
func (d *dict) saved() {
	for i := range d.over {
		d.over[i].changed = false
	}
	d.savedSince = true
}

// empty reports whether no key has a value.
func (d *dict) empty() bool {
	if d.live > 0 {
		return false
	}
	for i := range d.over {
		if !d.over[i].deleted {
			return false
		}
	}
	return true
}

// keys returns the keys that have a value, sorted.
func (d *dict) keys() []string {
	keys := make([]string, 0, d.live+len(d.over))
	for i := range d.over {
		if !d.over[i].deleted {
			keys = append(keys, d.over[i].key)
		}
	}
	for i := range d.entries {
		if e := &d.entries[i]; !e.dead {
			keys = append(keys, string(d.rawKey(e)))
		}
	}
	slices.Sort(keys)
	if d.live > 1 {
		keys = slices.Compact(keys) // a hostile record may repeat a key
	}
	return keys
}

// length returns the number of keys that have a value.
func (d *dict) length() int {
	if d.live > 0 {
		return len(d.keys())
	}
	n := 0
	for i := range d.over {
		if !d.over[i].deleted {
			n++
		}
	}
	return n
}

// toMap returns every value in a new map, decoding what is still encoded.
func (d *dict) toMap() (map[string]any, error) {
	m := make(map[string]any, d.live+len(d.over))
	for i := range d.entries {
		e := &d.entries[i]
		if e.dead {
			continue
		}
		v, err := d.decode(e)
		if err != nil {
			return nil, err
		}
		m[string(d.rawKey(e))] = v // later entries win, as in a decode
	}
	for i := range d.over {
		if o := &d.over[i]; !o.deleted {
			m[o.key] = o.v
		}
	}
	return m, nil
}

// changes returns the values set and the keys set or deleted since the
// last save, as Merger takes them.
func (d *dict) changes() (values map[string]any, changed map[string]struct{}) {
	values, changed = map[string]any{}, map[string]struct{}{}
	for i := range d.over {
		if o := &d.over[i]; o.changed {
			changed[o.key] = struct{}{}
			if !o.deleted {
				values[o.key] = o.v
			}
		}
	}
	return values, changed
}

// apply makes values what it is with the changes since the last save.
func (d *dict) apply(values map[string]any) {
	for i := range d.over {
		if o := &d.over[i]; o.changed {
			if o.deleted {
				delete(values, o.key)
			} else {
				values[o.key] = o.v
			}
		}
	}
}

// appendMsgpack appends the msgpack encoding of d's values to dst: the
// bytes of the raw entries still alive, then the overlay's values.
func (d *dict) appendMsgpack(dst []byte) ([]byte, error) {
	n := d.live
	for i := range d.over {
		if !d.over[i].deleted {
			n++
		}
	}
	dst = appendMapLen(slices.Grow(dst, len(d.raw)+5), n)
	dst = appendEntries(dst, d.raw, d.entries)
	return d.appendOverlay(dst, false)
}

// appendOverlay appends the overlay's values, or only those changed since
// the last save, as encoded map entries.
func (d *dict) appendOverlay(dst []byte, changedOnly bool) ([]byte, error) {
	e := getEncoder(dst)
	defer e.release()
	for i := range d.over {
		o := &d.over[i]
		if o.deleted || (changedOnly && !o.changed) {
			continue
		}
		if err := e.encodeEntry(o.key, o.v); err != nil {
			return dst, err
		}
	}
	return e.w.b, nil
}

// mergeMsgpack appends to dst the msgpack-encoded session map cur with d's
// changes since the last save applied: cur's entries d did not change are
// copied as they are, never decoded.
func (d *dict) mergeMsgpack(dst, cur []byte) ([]byte, error) {
	if !d.savedSince && d.raw != nil && bytes.Equal(cur, d.raw) {
		// The record is as this session loaded it and saved nothing since
		// (the usual case): its entries to keep are the index's live ones,
		// and comparing costs less than a second pass.
		n := d.live
		for i := range d.over {
			if o := &d.over[i]; o.changed && !o.deleted {
				n++
			}
		}
		dst = appendMapLen(slices.Grow(dst, len(cur)+5), n)
		dst = appendEntries(dst, cur, d.entries)
		return d.appendOverlay(dst, true)
	}
	set := 0
	for i := range d.over {
		if o := &d.over[i]; o.changed && !o.deleted {
			set++
		}
	}
	return spliceMsgpack(dst, cur, set,
		func(key []byte) bool { o := d.findBytes(key); return o != nil && o.changed },
		func(dst []byte) ([]byte, error) { return d.appendOverlay(dst, true) })
}

// spliceMsgpack appends to dst the encoded session map cur with the
// entries whose keys changed reports dropped, their bytes copied as they
// are, and set more entries that appendSet encodes after them.
func spliceMsgpack(dst, cur []byte, set int, changed func(key []byte) bool, appendSet func([]byte) ([]byte, error)) ([]byte, error) {
	scratch := mergeScratch.Get().(*[]rawEntry)
	defer putMergeScratch(scratch)
	entries, err := indexMsgpack((*scratch)[:0], cur)
	*scratch = entries
	if err != nil {
		return dst, err
	}
	n := set
	for i := range entries {
		entries[i].dead = changed(cur[entries[i].key:entries[i].val])
		if !entries[i].dead {
			n++
		}
	}
	dst = appendMapLen(slices.Grow(dst, len(cur)+5), n)
	return appendSet(appendEntries(dst, cur, entries))
}

// mergeScratch recycles the indexes of stored records that commits merge
// into.
var mergeScratch = sync.Pool{New: func() any { return new([]rawEntry) }}

func putMergeScratch(s *[]rawEntry) {
	if cap(*s) <= maxPooledEntries {
		clear(*s)
		mergeScratch.Put(s)
	}
}

// entryPool recycles the indexes of loaded records, given back when their
// session drops the record (dict.dropRaw).
var entryPool sync.Pool

// maxPooledEntries bounds the indexes the pools keep.
const maxPooledEntries = 1 << 15

// getEntries returns an empty index from the pool, or a new one.
func getEntries() *[]rawEntry {
	if p, ok := entryPool.Get().(*[]rawEntry); ok {
		return p
	}
	return new([]rawEntry)
}

// putEntries gives back an empty index.
func putEntries(p *[]rawEntry) {
	if cap(*p) <= maxPooledEntries {
		entryPool.Put(p)
	}
}
