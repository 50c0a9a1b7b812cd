package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/storetest"
)

const crashChildEnv = "BOLTSTORE_CRASH_CHILD"

// crashData is the content written under name: long enough to span pages,
// and checkable.
func crashData(name string) []byte {
	return []byte(strings.Repeat(name+";", 40))
}

// TestCrashChild is the child side of TestCrash: it saves sessions from 16
// goroutines with durable settings and prints each acknowledged key.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	s, err := boltstore.Open(path, nil)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i)
				err := s.Save(context.Background(), storetest.Key(name),
					session.Record{Data: crashData(name), Expires: time.Now().Add(time.Hour)})
				if err != nil {
					fmt.Println("ERR", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, name)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a child process that is saving durably at a random moment,
// then checks that the database opens without repair and holds every save
// the child saw acknowledged, intact. Rounds: 5, or BOLTSTORE_CRASH_ROUNDS.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped with -short")
	}
	rounds := 5
	if n, err := fmt.Sscan(os.Getenv("BOLTSTORE_CRASH_ROUNDS"), &rounds); n == 1 && err == nil {
		t.Logf("%d rounds", rounds)
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	var acked []string
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it acknowledge a random number of saves, then kill it
		// without warning.
		want := 20 + rand.IntN(400)
		deadline := time.After(30 * time.Second)
	read:
		for n := 0; n < want; {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if strings.HasPrefix(l, "ERR") {
					t.Fatalf("round %d: child: %s", round, l)
				}
				if strings.Count(l, "-") == 2 {
					acked = append(acked, l)
					n++
				}
			case <-deadline:
				t.Fatalf("round %d: child acknowledged too slowly", round)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines { // acknowledgements already printed count too
			if strings.Count(l, "-") == 2 {
				acked = append(acked, l)
			}
		}
		_ = cmd.Wait()

		s, err := boltstore.Open(path, &boltstore.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		err = s.DB().View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: consistency check after kill -9: %v", round, err)
		}
		for _, name := range acked {
			rec, err := s.Load(context.Background(), storetest.Key(name))
			if err != nil {
				t.Fatalf("round %d: acknowledged save %s lost: %v", round, name, err)
			}
			if string(rec.Data) != string(crashData(name)) {
				t.Fatalf("round %d: save %s came back damaged", round, name)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds, %d acknowledged saves all intact", rounds, len(acked))
}
