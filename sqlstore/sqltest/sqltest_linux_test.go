package sqltest_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session/sqlstore/sqltest"
)

const helperEnv = "SQLTEST_HELPER"

// TestHelperProcess is the test binary that TestServersDieWithTestBinary
// runs: it starts a shared PostgreSQL server and a dedicated MariaDB one,
// prints their process IDs, addresses and directories, and kills itself.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("run by TestServersDieWithTestBinary")
	}
	for _, s := range []*sqltest.Server{sqltest.SharedPostgres(t), sqltest.StartMySQL(t)} {
		db := s.Open(t, "")
		if err := db.PingContext(ctx(t)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("server %d %s %s\n", sqltest.Pid(s), s.Addr(), s.Dir())
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// TestServersDieWithTestBinary kills a test binary that has servers
// running, shared and dedicated: the kernel must kill them all (with
// PostgreSQL's backends), and a later binary remove what they left.
func TestServersDieWithTestBinary(t *testing.T) {
	sqltest.RequirePostgres(t)
	sqltest.RequireMySQL(t)
	begin := time.Now()
	cmd := exec.CommandContext(ctx(t), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type server struct {
		pid       int
		addr, dir string
	}
	var servers []server
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var s server
		if _, err := fmt.Sscanf(sc.Text(), "server %d %s %s", &s.pid, &s.addr, &s.dir); err == nil {
			servers = append(servers, s)
		}
	}
	t.Logf("helper reported after %v", time.Since(begin))
	err = cmd.Wait()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, not killed", err)
	}
	if len(servers) != 2 {
		t.Fatalf("the helper reported %d servers, want 2", len(servers))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range servers {
		for syscall.Kill(-s.pid, 0) == nil { // the whole process group
			if time.Now().After(deadline) {
				t.Fatalf("server %d (%s) still running after its test binary was killed", s.pid, s.addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", s.addr)
		}
	}
	t.Logf("servers gone after %v", time.Since(begin))
	work := filepath.Dir(servers[0].dir)
	sqltest.SweepDir(work)
	t.Logf("swept after %v", time.Since(begin))
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed binary's directory %s is still there after a sweep (%v)", work, err)
	}
}
