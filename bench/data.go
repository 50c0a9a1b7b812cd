package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
)

// startCounter is the value of "counter" in a freshly made session; every
// request-cycle handler checks it read at least that much, which proves it
// loaded the session.
const startCounter = 17

// tenKeys returns the realistic session every case works on,
// testkit.TenKeys, with the counter as an int: the peers read it back as
// the int they stored.
func tenKeys() map[string]any {
	m := testkit.TenKeys()
	m["counter"] = startCounter
	return m
}

// keyValueLen is the length of the string values of the sessions of the
// keys cases.
const keyValueLen = 100

// keysCounter is the value of "counter" in a fresh session of the keys
// cases. Go boxes the integers under 256 without allocating: a counter
// that starts above them costs what any integer costs, whatever the number
// of requests a run makes, where one starting at startCounter would cost
// an allocation less until it passed 255.
const keysCounter = 1 << 20

// sessionOfKeys returns a session of n keys: "counter" and n-1 strings of
// keyValueLen bytes under "k0001", "k0002"..., the shape of a cart or of a
// long form saved step by step. With n = 1 it holds only the counter.
func sessionOfKeys(n int) map[string]any {
	m := make(map[string]any, n)
	m["counter"] = keysCounter
	for i := 1; i < n; i++ {
		m[fmt.Sprintf("k%04d", i)] = strings.Repeat(string(rune('a'+i%26)), keyValueLen)
	}
	return m
}

// registerGob registers the dynamic types of tenKeys with encoding/gob,
// which the gob-based peers and the gob codec case need.
var registerGob = sync.OnceFunc(func() {
	gob.Register([]any{})
	gob.Register(map[string]any{})
	gob.Register(time.Time{})
})

// sessionID returns the j-th of a fixed series of well-formed session IDs,
// so that large stores can be filled without going through the middleware.
func sessionID(j int) string {
	sum := sha256.Sum256(binary.AppendUvarint([]byte("sessionbench"), uint64(j)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// engineOptions are Django's defaults without the background sweeper, whose
// timing would add noise to the rounds.
func engineOptions() *session.Options {
	o := session.DefaultOptions()
	o.SweepInterval = -1
	return o
}

// sessionData is one session (the realistic one, or one of the keys
// cases) as a handler sets it, as the engine holds it, and as the engine
// stores it.
type sessionData struct {
	// set is the session as a handler sets it (tenKeys for the realistic
	// one): what the contenders that make their sessions through their own
	// API put in them. It is shared: read it, never change it.
	set map[string]any
	// values are set as Set converted them (integers to int64...), the
	// input of the codec cases.
	values map[string]any
	// record is what the engine gives a store for it, with Expires a day
	// from when it was made.
	record session.Record
}

// makeSessionData returns the realistic session, tenKeys.
func makeSessionData(ctx context.Context) (*sessionData, error) {
	return newSessionData(ctx, tenKeys())
}

// newSessionData saves set through an engine and reads back what the
// engine stored, so that stores filled directly hold exactly what a request
// would have saved.
func newSessionData(ctx context.Context, set map[string]any) (*sessionData, error) {
	store := memstore.New()
	defer store.Close()
	engine, err := session.New(store, engineOptions())
	if err != nil {
		return nil, err
	}
	defer engine.Close()
	s, err := engine.Load(ctx, "")
	if err != nil {
		return nil, err
	}
	s.Update(set)
	if err := engine.Save(ctx, s); err != nil {
		return nil, fmt.Errorf("bench: save the session: %w", err)
	}
	rec, err := store.Load(ctx, session.StoreKey(s.ID()))
	if err != nil {
		return nil, fmt.Errorf("bench: read the saved record: %w", err)
	}
	rec.Expires = time.Now().Add(24 * time.Hour)
	values := map[string]any{}
	maps.Insert(values, s.Items())
	return &sessionData{set: set, values: values, record: rec}, nil
}

// env is what the cases of one run share: a context, a directory for their
// files, the session the contenders hold (the realistic one but in the keys
// cases) and the database servers.
type env struct {
	ctx      context.Context
	dir      string
	data     *sessionData
	redis    *redisSource // nil: no Redis server
	postgres *sqlSource   // nil: no PostgreSQL server
	mysql    *sqlSource   // nil: no MariaDB server
	// parent is the env this one was derived from, nil for the run's: the
	// names of directories and key prefixes are numbered by the run's env
	// alone, so that no two envs of a run hand out the same one.
	parent *env
	seq    atomic.Int64
}

// next returns the next number of the run's series.
func (e *env) next() int64 {
	for e.parent != nil {
		e = e.parent
	}
	return e.seq.Add(1)
}

// tempDir returns a new directory under the env's directory.
func (e *env) tempDir(name string) (string, error) {
	dir := filepath.Join(e.dir, fmt.Sprintf("%s-%d", name, e.next()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return dir, nil
}

// redisURL returns the URL of the run's Redis server, starting it on the
// first call if the suite runs its own; an error wrapping errNoRedis means
// there is none.
func (e *env) redisURL() (string, error) {
	return e.redis.URL(e.ctx)
}

// sqlSource returns the run's source of servers of kind b, nil if none.
func (e *env) sqlSource(b backend) *sqlSource {
	switch b {
	case postgresBackend:
		return e.postgres
	case mysqlBackend:
		return e.mysql
	}
	return nil
}

// ready makes sure the run has its server of kind b, starting it on the
// first call if the suite runs its own; an error wrapping b.missing()
// means there is none.
func (e *env) ready(b backend) error {
	switch b {
	case noBackend:
		return nil
	case redisBackend:
		_, err := e.redisURL()
		return err
	}
	if src := e.sqlSource(b); src != nil {
		return src.ready(e.ctx)
	}
	return b.missing()
}

// redisPrefix returns a key prefix of its own for one Redis store, so that
// the stores of a run, and of runs sharing a server, never meet.
func (e *env) redisPrefix(name string) string {
	return fmt.Sprintf("sessionbench:%d:%s-%d:", os.Getpid(), name, e.next())
}

// sub returns an env whose files go to a new directory under e's, and a
// function that removes that directory.
func (e *env) sub(name string) (*env, func() error, error) {
	dir, err := e.tempDir(name)
	if err != nil {
		return nil, nil, err
	}
	remove := func() error {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		return nil
	}
	return e.derive(dir, e.data), remove, nil
}

// holding returns an env like e whose contenders hold the session d.
func (e *env) holding(d *sessionData) *env {
	return e.derive(e.dir, d)
}

// derive returns an env like e with its files in dir and the session d.
func (e *env) derive(dir string, d *sessionData) *env {
	return &env{ctx: e.ctx, dir: dir, data: d, redis: e.redis, postgres: e.postgres, mysql: e.mysql, parent: e}
}

// fillWorkers is how many goroutines fill a store: with group commit, the
// more writers, the larger each transaction.
const fillWorkers = 512

// fill stores the env's record under the store keys of the first n
// session IDs. It saves them in the order of their store keys, which lets a
// B+tree append instead of splitting pages all over: bbolt then takes
// seconds, not minutes, to hold a million sessions.
func (e *env) fill(store session.Store, n int) error {
	keys := make([]string, n)
	for j := range keys {
		keys[j] = session.StoreKey(sessionID(j))
	}
	slices.Sort(keys)
	return spread(n, fillWorkers, func(_, j int) error {
		return store.Save(e.ctx, keys[j], e.data.record)
	})
}
