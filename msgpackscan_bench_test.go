package session

import "testing"

// BenchmarkIndexMsgpack is the validating pass a load makes over a stored
// session of 1,000 keys, beside a full decode of it.
func BenchmarkIndexMsgpack(b *testing.B) {
	data, err := MsgpackCodec{}.Encode(nil, sizedValues(1000))
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
