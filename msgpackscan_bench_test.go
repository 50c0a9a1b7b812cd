package session

import (
	"fmt"
	"testing"

	"github.com/sessionkv/session/internal/testkit"
)

// BenchmarkIndexMsgpack is the validating pass a load makes over a stored
// session of 1,000 keys, beside a full decode of it, and beside the floors
// of any pass over it: walking its entries (chain) and copying it (copy).
func BenchmarkIndexMsgpack(b *testing.B) {
	data, err := MsgpackCodec{}.Encode(nil, testkit.SizedSession(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("index", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		entries := make([]rawEntry, 0, 1000)
		for b.Loop() {
			if _, err := indexMsgpack(entries[:0], data); err != nil {
				b.Fatal(err)
			}
		}
	})
	// chain is the least any reader of this record pays to find its
	// entries: it follows each key's and value's length to the next entry
	// and checks and records nothing. Each step's address depends on the
	// bytes the step before read, so the walk waits on one memory read
	// after another however fast the machine; this record's keys are all
	// fixstr and its values str8 but one int.
	b.Run("chain", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var n int
		for b.Loop() {
			n = 0
			for p := 3; p < len(data); n++ {
				p += 1 + int(data[p]&0x1f)
				if size := int(scalarSize[data[p]]); size > 0 {
					p += size // the counter
				} else {
					p += 2 + int(data[p+1])
				}
			}
		}
		if n != 1000 {
			b.Fatalf("walked %d entries", n)
		}
	})
	// copy is one copy of the record, as a store's read or write makes.
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		dst := make([]byte, len(data))
		for b.Loop() {
			copy(dst, data)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (MsgpackCodec{}).Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordFloor is the work a request on a 1,000-key session cannot
// avoid with this design, with no engine, store or HTTP around it: copy the
// stored record in (the store's read), check it in the index pass, compare
// it with the stored one at commit, splice one changed value into a new
// record, and copy that out (the store's write). Set beside
// BenchmarkRequestCost_Growth, it shows how much of the 1,000-key request
// is the size of the record itself.
func BenchmarkRecordFloor(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			payload, err := MsgpackCodec{}.Encode(nil, testkit.SizedSession(n))
			if err != nil {
				b.Fatal(err)
			}
			stored := append([]byte(nil), payload...)
			in := make([]byte, 0, len(payload))
			out := make([]byte, 0, len(payload)+64)
			var d dict
			d.reset()
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				in = append(in[:0], stored...)
				if err := d.index(in, nil); err != nil {
					b.Fatal(err)
				}
				d.set("counter", int64(18))
				merged, err := d.mergeMsgpack(out[:0], stored)
				if err != nil {
					b.Fatal(err)
				}
				copy(stored, merged[:min(len(merged), len(stored))])
			}
		})
	}
}
