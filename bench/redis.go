package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoRedis means that the run has no Redis server: redis-server is not
// on PATH and no URL was given. The Redis cases are then not measured.
var errNoRedis = errors.New("no redis-server")

// redisProgram is the server the suite starts when no URL is given.
var redisProgram = "redis-server"

// redisPoolSize is the number of connections each Redis contender may
// open, whatever its client library: as many as the most clients of a
// case, so that no client waits for a connection.
const redisPoolSize = 64

// redisTimeout bounds connecting to Redis and each reply, for every client
// the suite makes.
const redisTimeout = 5 * time.Second

// redisSource gives the run's Redis cases their server: the one at the URL
// the plan names or, without one, a redis-server the suite starts on the
// first use and stops in close. Its methods are safe for concurrent use.
type redisSource struct {
	given   string // Plan.RedisURL
	program string // started when given is ""
	dir     string // the started server's working directory

	mu      sync.Mutex
	tried   bool
	url     string
	desc    string
	err     error
	started *redisServer
}

func newRedisSource(given, dir string) *redisSource {
	return &redisSource{given: given, program: redisProgram, dir: dir}
}

// URL returns the Redis URL the cases use, starting the server the first
// time if needed. It returns an error wrapping errNoRedis when there is no
// server to use; every later call returns the same result.
func (s *redisSource) URL(ctx context.Context) (string, error) {
	if s == nil {
		return "", errNoRedis
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tried {
		return s.url, s.err
	}
	s.tried = true
	switch {
	case s.given != "":
		s.url = s.given
	default:
		srv, err := startRedisServer(ctx, s.program, s.dir)
		if err != nil {
			s.err = err
			return "", err
		}
		s.started, s.url = srv, srv.URL()
	}
	version, err := redisVersion(ctx, s.url)
	if err != nil {
		s.err = fmt.Errorf("bench: redis at %s: %w", redactURL(s.url), err)
		return "", s.err
	}
	if s.started != nil {
		s.desc = fmt.Sprintf("Redis %s started by the suite on %s (no persistence)", version, s.started.addr)
	} else {
		s.desc = fmt.Sprintf("Redis %s at %s", version, redactURL(s.url))
	}
	return s.url, nil
}

// describe says which Redis server the cases used, "" if none.
func (s *redisSource) describe() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desc
}

// close stops the server the source started, if any.
func (s *redisSource) close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started == nil {
		return nil
	}
	err := s.started.stop()
	s.started = nil
	return err
}

// redactURL drops the user and password of a Redis URL, for reports.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the given URL"
	}
	u.User = nil
	return u.String()
}

// redisVersion asks the server at url for its version.
func redisVersion(ctx context.Context, url string) (string, error) {
	c, err := newRedisClient(url)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "of unknown version", nil
}

// newRedisClient returns a go-redis client of the server at url with the
// suite's pool size and timeouts, deadlines from contexts applied to its
// network I/O.
func newRedisClient(url string) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bench: redis URL: %w", err)
	}
	o.PoolSize = redisPoolSize
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
	return redis.NewClient(o), nil
}

// dropRedisKeys deletes the keys that start with prefix, so that a run
// against a given server leaves nothing of its own behind.
func dropRedisKeys(ctx context.Context, url, prefix string) error {
	c, err := newRedisClient(url)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, redisGlob(prefix)+"*", 1000).Iterator()
	var batch []string
	for it.Next(ctx) {
		if batch = append(batch, it.Val()); len(batch) == 1000 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("bench: redis: drop the suite's keys: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("bench: redis: drop the suite's keys: %w", err)
	}
	if len(batch) > 0 {
		if err := c.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("bench: redis: drop the suite's keys: %w", err)
		}
	}
	return nil
}

// redisGlob escapes the glob characters of a key prefix.
func redisGlob(prefix string) string {
	var b strings.Builder
	for _, r := range prefix {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// redisServer is a redis-server process the suite started: on a free
// loopback port, in its own directory, without persistence.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  *tailBuffer
}

// redisStartTimeout bounds how long a server may take to answer.
const redisStartTimeout = 20 * time.Second

// startRedisServer starts program (redis-server) on a free 127.0.0.1 port
// with dir as its working directory, and waits until it answers. It
// returns an error wrapping errNoRedis if program is not on PATH.
func startRedisServer(ctx context.Context, program, dir string) (*redisServer, error) {
	path, err := exec.LookPath(program)
	if err != nil {
		return nil, fmt.Errorf("%w (%s is not on PATH)", errNoRedis, program)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: redis-server: %w", err)
	}
	var lastErr error
	// Another process may take the free port before the server binds it:
	// try another one then.
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("bench: redis-server: %w", err)
		}
		s, err := launchRedis(ctx, path, dir, port)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
	}
	return nil, fmt.Errorf("bench: redis-server: %w", lastErr)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launchRedis(ctx context.Context, path, dir string, port int) (*redisServer, error) {
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{}),
		log: new(tailBuffer)}
	s.cmd = exec.Command(path,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "")
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	c, err := newRedisClient(s.URL())
	if err != nil {
		return nil, errors.Join(err, s.stop())
	}
	defer c.Close()
	deadline := time.Now().Add(redisStartTimeout)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("redis-server on %s exited: %s", s.addr, s.log.tail())
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		switch {
		case err == nil:
			return s, nil
		case ctx.Err() != nil:
			return nil, errors.Join(ctx.Err(), s.stop())
		case time.Now().After(deadline):
			return nil, errors.Join(fmt.Errorf("redis-server on %s not ready after %v: %v; output: %s",
				s.addr, redisStartTimeout, err, s.log.tail()), s.stop())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL returns the server's URL.
func (s *redisServer) URL() string { return "redis://" + s.addr }

// stop ends the server, politely first, and waits for it to exit.
func (s *redisServer) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		select {
		case <-s.done:
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("bench: stop redis-server: %w", err)
	}
	<-s.done
	return nil
}

// tailBuffer keeps the last few kilobytes a process wrote.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const tailSize = 4096

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - tailSize; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
