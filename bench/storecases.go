package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// storeGroup measures Load and Save on each of sessionkv's stores, one
// client, on Plan.Sessions sessions.
func (r *runner) storeGroup() (err error) {
	var cases []*benchCase
	var closers []func() error
	defer func() { err = errors.Join(err, r.closeAll(closers)) }()
	keys := make([]string, r.plan.Sessions)
	for j := range keys {
		keys[j] = session.StoreKey(sessionID(j))
	}
	ctx, rec := r.env.ctx, r.env.data.record
	for _, st := range stores {
		contender := "sessionkv-" + st.name
		load, save := "store/"+contender+"/load", "store/"+contender+"/save"
		if !r.plan.wants(load) && !r.plan.wants(save) {
			continue
		}
		if ok, err := r.available(contender, st.server); err != nil || !ok {
			if err != nil {
				return fmt.Errorf("bench: %s: %w", contender, err)
			}
			continue
		}
		s, err := st.open(r.env)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", contender, err)
		}
		closers = append(closers, func() error { return closeStore(s) })
		if err := r.env.fill(s, len(keys)); err != nil {
			return fmt.Errorf("bench: %s: fill: %w", contender, err)
		}
		id := Result{Group: "store", Contender: contender, Library: "sessionkv", Concurrency: 1}
		if r.plan.wants(load) {
			c := &benchCase{Result: id, op: func(_, i int) error {
				_, err := s.Load(ctx, keys[i%len(keys)])
				return err
			}}
			c.Name = load
			cases = append(cases, c)
		}
		if r.plan.wants(save) {
			c := &benchCase{Result: id, op: func(_, i int) error {
				return s.Save(ctx, keys[i%len(keys)], rec)
			}}
			c.Name = save
			cases = append(cases, c)
		}
	}
	return r.measure(cases)
}

// codecGroup measures a round trip (encode, then decode) of the realistic
// session through sessionkv's codecs and through encoding/gob and
// encoding/json used directly, as session libraries built on them do: gob
// needs a new encoder per record, since each record must decode on its own.
// The ops reuse buffers, so they run with one client only.
func (r *runner) codecGroup() error {
	registerGob()
	values := r.env.data.values
	codecCase := func(contender, library string, op func() error) *benchCase {
		return &benchCase{
			Result: Result{Name: "codec/" + contender, Group: "codec", Contender: contender,
				Library: library, Concurrency: 1},
			op: func(int, int) error { return op() },
		}
	}
	roundTrip := func(c session.Codec) func() error {
		var buf []byte
		return func() error {
			var err error
			if buf, err = c.Encode(buf[:0], values); err != nil {
				return err
			}
			_, err = c.Decode(buf)
			return err
		}
	}
	var gobBuf bytes.Buffer
	all := []*benchCase{
		codecCase("sessionkv-msgpack", "sessionkv", roundTrip(session.MsgpackCodec{})),
		codecCase("sessionkv-json", "sessionkv", roundTrip(session.JSONCodec{})),
		codecCase("encoding-gob", "stdlib", func() error {
			gobBuf.Reset()
			if err := gob.NewEncoder(&gobBuf).Encode(values); err != nil {
				return err
			}
			var m map[string]any
			return gob.NewDecoder(&gobBuf).Decode(&m)
		}),
		codecCase("encoding-json", "stdlib", func() error {
			data, err := json.Marshal(values)
			if err != nil {
				return err
			}
			var m map[string]any
			return json.Unmarshal(data, &m)
		}),
	}
	var cases []*benchCase
	for _, c := range all {
		if r.plan.wants(c.Name) {
			cases = append(cases, c)
		}
	}
	return r.measure(cases)
}

// commitKeys is how many distinct sessions the commit cases write.
const commitKeys = 4096

func commitName(contender string, conc int) string {
	return fmt.Sprintf("commit/%s/c=%d", contender, conc)
}

// commitGroup measures durable commits of the realistic record from
// concurrent clients: through boltstore, whose group commit shares one
// transaction and fsync among the writers that arrive together, and
// through a bbolt Update per commit, with the same bbolt options and the
// same bytes written. A third case, bbolt-ideal-group, is the ceiling of
// any group commit on bbolt: one goroutine puts as many sessions as there
// are clients in each Update, with no coordination to pay for; its
// figures are per session.
func (r *runner) commitGroup() (err error) {
	const store, raw, ideal = "sessionkv-boltstore-durable", "bbolt-update", "bbolt-ideal-group"
	var wanted []int
	for _, conc := range r.plan.Concurrency {
		if r.plan.wants(commitName(store, conc)) || r.plan.wants(commitName(raw, conc)) ||
			r.plan.wants(commitName(ideal, conc)) {
			wanted = append(wanted, conc)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	var closers []func() error
	defer func() { err = errors.Join(err, r.closeAll(closers)) }()
	dir, err := r.env.tempDir("commit")
	if err != nil {
		return err
	}
	s, err := boltstore.Open(filepath.Join(dir, "store.db"), nil)
	if err != nil {
		return err
	}
	closers = append(closers, s.Close)
	db, err := openRawBolt(filepath.Join(dir, "raw.db"))
	if err != nil {
		return err
	}
	closers = append(closers, db.Close)
	idealDB, err := openRawBolt(filepath.Join(dir, "ideal.db"))
	if err != nil {
		return err
	}
	closers = append(closers, idealDB.Close)

	keys := make([][]byte, commitKeys)
	for j := range keys {
		keys[j] = []byte(session.StoreKey(sessionID(j)))
	}
	ctx, rec := r.env.ctx, r.env.data.record
	value := binary.BigEndian.AppendUint64(nil, uint64(rec.Expires.UnixNano()))
	value = append(value, rec.Data...)
	storeOp := func(_, i int) error { return s.Save(ctx, string(keys[i%commitKeys]), rec) }
	rawOp := func(_, i int) error {
		return db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(rawBucket).Put(keys[i%commitKeys], value) })
	}
	idealOp := func(conc int) func(int, int) error {
		return func(_, i int) error {
			return idealDB.Update(func(tx *bbolt.Tx) error {
				b := tx.Bucket(rawBucket)
				for j := range conc {
					if err := b.Put(keys[(i*conc+j)%commitKeys], value); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	var cases []*benchCase
	for _, conc := range wanted {
		for _, c := range []struct {
			name, library  string
			op             func(int, int) error
			workers, batch int
		}{{store, "sessionkv", storeOp, 0, 0}, {raw, "bbolt", rawOp, 0, 0}, {ideal, "bbolt", idealOp(conc), 1, conc}} {
			if r.plan.wants(commitName(c.name, conc)) {
				cases = append(cases, &benchCase{
					Result: Result{Name: commitName(c.name, conc), Group: "commit", Contender: c.name,
						Library: c.library, Concurrency: conc},
					op: c.op, workers: c.workers, batch: c.batch,
				})
			}
		}
	}
	return r.measure(cases)
}

var rawBucket = []byte("sessions")

// openRawBolt opens a bbolt database with boltstore's settings and one
// bucket.
func openRawBolt(path string) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         time.Second,
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: open bbolt: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucketIfNotExists(rawBucket); return err })
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: create bucket: %w", err), db.Close())
	}
	return db, nil
}

func sweepName(expired int) string {
	return fmt.Sprintf("sweep/sessionkv-boltstore-durable/expired=%d", expired)
}

// sweepGroup measures one DeleteExpired of a durable boltstore holding
// Plan.SweepLive live sessions and each of Plan.SweepExpired expired ones.
// Before each sweep, untimed, the expired sessions are written (without
// fsync, to keep that short) and the store's clock is moved past their
// expiry.
func (r *runner) sweepGroup() (err error) {
	var wanted []int
	for _, n := range r.plan.SweepExpired {
		if r.plan.wants(sweepName(n)) {
			wanted = append(wanted, n)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	dir, err := r.env.tempDir("sweep")
	if err != nil {
		return err
	}
	var skew atomic.Int64 // how far the store's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	s, err := boltstore.Open(filepath.Join(dir, "sessions.db"), &boltstore.Options{Now: now})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	unsynced := func(f func() error) error {
		s.DB().NoSync = true
		defer func() { s.DB().NoSync = false }()
		return f()
	}
	if err := unsynced(func() error { return r.env.fill(s, r.plan.SweepLive) }); err != nil {
		return fmt.Errorf("bench: sweep: fill: %w", err)
	}
	ctx, data := r.env.ctx, r.env.data.record.Data
	batch := 0
	var cases []*benchCase
	for _, n := range wanted {
		cases = append(cases, &benchCase{
			Result: Result{Name: sweepName(n), Group: "sweep", Contender: "sessionkv-boltstore-durable",
				Library: "sessionkv", Concurrency: 1, StoreSize: r.plan.SweepLive},
			fixedOps: 1,
			before: func() error {
				batch++
				expires := now().Add(time.Second)
				err := unsynced(func() error {
					return spread(n, fillWorkers, func(_, j int) error {
						key := session.StoreKey(fmt.Sprintf("expired-%d-%d", batch, j))
						return s.Save(ctx, key, session.Record{Data: data, Expires: expires})
					})
				})
				// The expiry index has minute slots: two minutes on, the
				// batch is in a slot the sweep reaches.
				skew.Add(int64(2 * time.Minute))
				return err
			},
			op: func(int, int) error {
				got, err := s.DeleteExpired(ctx)
				if err == nil && got != n {
					err = fmt.Errorf("DeleteExpired removed %d sessions, want %d", got, n)
				}
				return err
			},
		})
	}
	return r.measure(cases)
}
