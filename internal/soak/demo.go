package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DemoPackage is the import path of the demo web app that Build compiles.
const DemoPackage = "github.com/sessionkv/session/cmd/sessiondemo"

// listeningMsg is the message the demo logs once it accepts connections.
const listeningMsg = `msg="sessiondemo listening"`

// maxLogBytes bounds how much of the demo's log a Demo keeps; a long soak run
// must not grow the test process's memory through the log.
const maxLogBytes = 1 << 20

// Errors returned by Start.
var (
	// ErrExited reports a demo that exited before it was listening.
	ErrExited = errors.New("soak: the demo exited before it was listening")
	// ErrStartTimeout reports a demo that did not log its address in time.
	ErrStartTimeout = errors.New("soak: the demo did not start in time")
)

// Build compiles cmd/sessiondemo into dir and returns the binary's path. It
// runs the go command in the directory of the module that holds the demo, so
// it works from this module and from a module that replaces it with a local
// copy.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleDir(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sessiondemo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, DemoPackage)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("soak: go build %s: %w\n%s", DemoPackage, err, out)
	}
	return bin, nil
}

// moduleDir returns the directory of the module github.com/sessionkv/session
// as the go command in the current directory resolves it.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/sessionkv/session").Output()
	if err != nil {
		return "", fmt.Errorf("soak: locate the module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("soak: locate the module: go list printed no directory")
	}
	return dir, nil
}

// Demo is a running sessiondemo process. Its methods are safe for concurrent
// use.
type Demo struct {
	// URL is the demo's base URL, "http://127.0.0.1:PORT", without a
	// trailing slash.
	URL string
	// Engine is the store the demo reported at startup ("bolt", "file",
	// "memory").
	Engine string
	// Pid is the process ID, for reading /proc/<pid>/status.
	Pid int

	cmd  *exec.Cmd
	log  *logWriter
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, valid after done is closed
	stop sync.Once
}

// Start runs the demo binary bin on a free loopback port, with the test
// process's environment minus SESSION_ENGINE, plus env ("KEY=value" pairs).
// It returns once the demo logs that it is listening, or fails after
// timeout. The caller must call Stop.
func Start(bin string, env []string, timeout time.Duration) (*Demo, error) {
	lw := &logWriter{ready: make(chan string, 1)}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(environWithout("SESSION_ENGINE"), env...)
	cmd.Stdout = lw
	cmd.Stderr = lw
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("soak: start the demo: %w", err)
	}
	d := &Demo{Pid: cmd.Process.Pid, cmd: cmd, log: lw, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	if err := d.awaitListening(timeout); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// awaitListening waits for the demo's "listening" log line and records the
// URL and engine it names.
func (d *Demo) awaitListening(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line := <-d.log.ready:
		fields := logFields(line)
		d.URL = strings.TrimSuffix(fields["url"], "/")
		d.Engine = fields["engine"]
		if !strings.HasPrefix(d.URL, "http://127.0.0.1:") {
			return fmt.Errorf("soak: the demo listens on %q, not on loopback", d.URL)
		}
		return nil
	case <-d.done:
		return fmt.Errorf("%w: %v\n%s", ErrExited, d.err, d.Logs())
	case <-timer.C:
		return fmt.Errorf("%w (%v)\n%s", ErrStartTimeout, timeout, d.Logs())
	}
}

// Stop sends SIGTERM, waits up to ten seconds for a clean shutdown, then
// kills the process. It returns the process's exit error: nil after a clean
// shutdown. Calling Stop again returns the same result.
func (d *Demo) Stop() error {
	d.stop.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	<-d.done
	return d.err
}

// Logs returns what the demo has written to stdout and stderr (the first
// megabyte of it).
func (d *Demo) Logs() string { return d.log.String() }

// environWithout returns os.Environ without the variable key.
func environWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// logWriter keeps the demo's output and reports its first "listening" line.
// exec.Cmd copies the child's output into it from its own goroutine, so
// cmd.Wait needs no coordination with readers.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte      // the current unterminated line
	ready   chan string // receives the listening line once
	seen    bool
}

// Write implements io.Writer.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := maxLogBytes - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	if !w.seen {
		w.scan(p)
	}
	return len(p), nil
}

// scan looks for the listening line among the complete lines in p.
func (w *logWriter) scan(p []byte) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if strings.Contains(line, listeningMsg) {
			w.seen, w.partial = true, nil
			w.ready <- line
			return
		}
	}
}

// String returns the output kept so far.
func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// logFields parses the key=value pairs of one log/slog text line. Quoted
// values are unquoted.
func logFields(line string) map[string]string {
	fields := map[string]string{}
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimLeft(s, " ") {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key, rest := s[:eq], s[eq+1:]
		var value string
		if q, err := strconv.QuotedPrefix(rest); err == nil {
			value, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			value, rest = rest[:sp], rest[sp:]
		} else {
			value, rest = rest, ""
		}
		fields[key] = value
		s = rest
	}
	return fields
}
