// Package redistest starts throwaway Redis servers for tests: a standalone
// redis-server, or a Cluster of several, on free loopback ports (127.0.0.1
// only), each in a temporary directory with persistence off, stopped by
// the test's Cleanup.
//
// The servers come from the redis-server and redis-cli programs (the Debian
// package redis-server). When they are not installed, tests that ask for a
// server are skipped with a message on stderr, unless the environment
// variable SESSIONKV_REQUIRE_REDIS is "1", in which case they fail: CI sets
// it so that the Redis tests always run there.
//
// The helpers are safe for use from parallel tests; each server belongs to
// the test that started it.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session/internal/testkit"
)

// RequireEnv is the environment variable that, set to "1", turns a missing
// redis-server into a test failure instead of a skip.
const RequireEnv = "SESSIONKV_REQUIRE_REDIS"

// startTimeout bounds how long a server or a cluster may take to be ready.
const startTimeout = 20 * time.Second

var skipNotice sync.Once

// Require skips tb (or fails it when RequireEnv is "1") unless redis-server
// and redis-cli are installed.
func Require(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err == nil {
			continue
		}
		msg := fmt.Sprintf("redistest: %s is not installed, so the Redis tests do not run "+
			"(install the redis-server package, e.g. with scripts/redis-deps.sh)", bin)
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s; %s=1 requires them", msg, RequireEnv)
		}
		skipNotice.Do(func() { fmt.Fprintln(os.Stderr, "SKIP", msg) })
		tb.Skip(msg)
	}
}

// Server is one redis-server process. Its methods are safe for concurrent
// use.
type Server struct {
	tb      testing.TB
	port    int
	dir     string
	cluster bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a standalone redis-server on a free loopback port and
// registers its shutdown with tb.Cleanup. It skips or fails tb as Require
// does when Redis is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	return start(tb, false)
}

func start(tb testing.TB, cluster bool) *Server {
	tb.Helper()
	var lastErr error
	for range 5 {
		s := &Server{tb: tb, port: freePort(tb, cluster), dir: tb.TempDir(), cluster: cluster}
		if lastErr = s.launch(); lastErr == nil {
			tb.Cleanup(s.Kill)
			return s
		}
	}
	tb.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr returns the server's address, 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir returns the server's working directory.
func (s *Server) Dir() string { return s.dir }

// NewClient returns a client of the server with one-second timeouts and
// ContextTimeoutEnabled, closed by tb.Cleanup. Change its options through
// modify, when not nil, before the client is made.
func (s *Server) NewClient(tb testing.TB, modify func(*redis.Options)) *redis.Client {
	tb.Helper()
	o := &redis.Options{
		Addr:                  s.Addr(),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	}
	if modify != nil {
		modify(o)
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same port, after Kill. With
// persistence off it comes back empty.
func (s *Server) Restart() {
	s.tb.Helper()
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: restart: %v", err)
}

// Pause freezes the server with SIGSTOP: connections stay open and nothing
// answers, like a hung host. Resume undoes it; Kill also works on a paused
// server. Where there is no SIGSTOP, Pause skips tb.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	if stopSignal == nil {
		tb.Skip("redistest: Pause needs SIGSTOP")
	}
	// The signal is on its way when kill returns; a server thread woken by
	// a command before it lands would still answer.
	if pid := s.signal(stopSignal); pid != 0 {
		if err := testkit.WaitStopped(startTimeout, pid); err != nil {
			tb.Fatalf("redistest: Pause: %v", err)
		}
	}
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	if contSignal != nil {
		s.signal(contSignal)
	}
}

// signal sends sig to the server process and returns its ID, or 0 when
// the server is down.
func (s *Server) signal(sig os.Signal) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	_ = s.cmd.Process.Signal(sig)
	return s.cmd.Process.Pid
}

// launch starts the process and waits until it answers PING.
func (s *Server) launch() error {
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "",
	}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "3000")
	}
	cmd := exec.Command("redis-server", args...)
	log := new(testkit.LogBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond,
		MaxRetries: -1, ReadTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, tail(log))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on port %d not ready after %v: %v; log: %s", s.port, startTimeout, err, tail(log))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port that is free now, and whose cluster bus
// port (port+10000) is too when cluster is set, below the ephemeral ports
// so that Restart can have it back. Another process may still take it
// before the server binds it; start retries then.
func freePort(tb testing.TB, cluster bool) int {
	tb.Helper()
	var offsets []int
	if cluster {
		offsets = []int{10000}
	}
	port, err := testkit.FreePort(offsets...)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return port
}

// Cluster is a Redis Cluster of primaries without replicas.
type Cluster struct {
	// Nodes are the cluster's servers.
	Nodes []*Server
}

// StartCluster starts n redis-server processes in cluster mode on free
// loopback ports, joins them into one cluster with redis-cli --cluster
// create (slots shared evenly, no replicas) and waits until the cluster
// state is ok on every node. n must be at least 3, Redis's minimum.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	Require(tb)
	if n < 3 {
		tb.Fatalf("redistest: a cluster needs at least 3 primaries, not %d", n)
	}
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, start(tb, true))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, node := range c.Nodes {
		for !node.clusterReady(n) {
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster not ready after %v", startTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// clusterReady reports whether the node sees an ok cluster of n nodes with
// every slot served.
func (s *Server) clusterReady(n int) bool {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return false
	}
	return strings.Contains(info, "cluster_state:ok") &&
		strings.Contains(info, "cluster_slots_ok:16384") &&
		strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r")
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// NewClient returns a cluster client with one-second timeouts and
// ContextTimeoutEnabled, closed by tb.Cleanup. Change its options through
// modify, when not nil, before the client is made.
func (c *Cluster) NewClient(tb testing.TB, modify func(*redis.ClusterOptions)) *redis.ClusterClient {
	tb.Helper()
	o := &redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	}
	if modify != nil {
		modify(o)
	}
	cc := redis.NewClusterClient(o)
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// tail returns the last lines of a server's output.
func tail(log *testkit.LogBuffer) string {
	out := log.String()
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return out
}
