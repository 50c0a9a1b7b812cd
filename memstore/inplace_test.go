package memstore

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
)

// Concurrent in-place rewrites vs readers: every read must see one whole
// version (all bytes equal, of the version's length).
func TestStore_InPlaceRewriteVsReaders(t *testing.T) {
	s := New()
	ctx := context.Background()
	key := session.StoreKey("x")
	exp := time.Now().Add(time.Hour)
	if err := s.Save(ctx, key, session.Record{Data: bytes.Repeat([]byte{'a'}, 4096), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	check := func(b []byte) {
		if len(b) == 0 {
			t.Error("empty")
			return
		}
		want := bytes.Repeat(b[:1], len(b))
		if !bytes.Equal(b, want) || int(b[0]-'a'+1)*100 != len(b) && len(b) != 4096 {
			t.Errorf("torn read: %d bytes starting %q", len(b), b[:min(8, len(b))])
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 0, 4096)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (i+w)%26 + 1
				buf = append(buf[:0], bytes.Repeat([]byte{byte('a' + n - 1)}, n*100)...)
				_ = s.UpdateRecord(ctx, key, func(cur session.Record, found bool) (session.Record, error) {
					check(cur.Data)
					return session.Record{Data: buf, Expires: exp}, nil
				})
				buf[0] = '!' // the caller reuses its slice
			}
		}(w)
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			dst := make([]byte, 0, 64)
			for i := 0; i < 3000; i++ {
				switch i % 3 {
				case 0:
					rec, err := s.Load(ctx, key)
					if err == nil {
						check(rec.Data)
					}
				case 1:
					rec, err := s.LoadAppend(ctx, key, dst[:0])
					if err == nil {
						check(rec.Data)
						dst = rec.Data
					}
				case 2:
					_ = s.Range(ctx, func(k string, rec session.Record) bool { check(rec.Data); return true })
				}
			}
		}(r)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
}
