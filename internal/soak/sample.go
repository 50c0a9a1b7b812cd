package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sample is one reading of the demo's resources.
type Sample struct {
	// At is when the reading was taken, from the start of sampling.
	At time.Duration
	// RSS is the resident set size in bytes (VmRSS of /proc/<pid>/status):
	// Go heap, stacks and runtime, plus the touched pages of bbolt's mmap.
	RSS int64
	// Goroutines is the demo's runtime.NumGoroutine.
	Goroutines int
	// HeapAlloc is the demo's live and not yet collected heap, in bytes.
	HeapAlloc int64
}

// Sampler reads a demo's RSS and goroutine count at a fixed interval until
// stopped. Create it with StartSampler.
type Sampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples []Sample
	errs    int
	lastErr error
}

// StartSampler starts sampling the demo with the given pid and base URL every
// interval. It takes a first sample at once.
func StartSampler(pid int, baseURL string, interval time.Duration) *Sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{cancel: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	go s.loop(ctx, client, pid, baseURL, interval)
	return s
}

// loop takes a sample now and at every tick.
func (s *Sampler) loop(ctx context.Context, client *http.Client, pid int, baseURL string, interval time.Duration) {
	defer close(s.done)
	defer client.CloseIdleConnections()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	start := time.Now()
	for {
		smp, err := take(ctx, client, pid, baseURL)
		smp.At = time.Since(start)
		s.record(smp, err)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// record keeps a sample, or counts a failed one.
func (s *Sampler) record(smp Sample, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs++
		s.lastErr = err
		return
	}
	s.samples = append(s.samples, smp)
}

// Stop ends sampling and returns the samples, with the number of failed
// readings and the last failure.
func (s *Sampler) Stop() (samples []Sample, failed int, lastErr error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.errs, s.lastErr
}

// take reads RSS from /proc and the rest from the demo's /debug/vars.
func take(ctx context.Context, client *http.Client, pid int, baseURL string) (Sample, error) {
	var smp Sample
	rss, err := readRSS(pid)
	if err != nil {
		return smp, err
	}
	smp.RSS = rss
	vars, err := readVars(ctx, client, baseURL)
	if err != nil {
		return smp, err
	}
	smp.Goroutines = vars.Goroutines
	smp.HeapAlloc = vars.MemStats.HeapAlloc
	return smp, nil
}

// readRSS returns VmRSS of process pid in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("soak: VmRSS %q: %w", rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("soak: no VmRSS in /proc/%d/status", pid)
}

// debugVars is the part of the demo's expvar page that the sampler reads.
type debugVars struct {
	Goroutines int `json:"goroutines"`
	MemStats   struct {
		HeapAlloc int64
	} `json:"memstats"`
}

// Goroutines returns the demo's goroutine count from its /debug/vars.
func Goroutines(ctx context.Context, client *http.Client, baseURL string) (int, error) {
	v, err := readVars(ctx, client, baseURL)
	return v.Goroutines, err
}

// readVars fetches and decodes /debug/vars.
func readVars(ctx context.Context, client *http.Client, baseURL string) (debugVars, error) {
	var v debugVars
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/debug/vars", nil)
	if err != nil {
		return v, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("soak: GET /debug/vars: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("soak: decode /debug/vars: %w", err)
	}
	if v.Goroutines == 0 {
		return v, fmt.Errorf("soak: /debug/vars has no goroutine count")
	}
	return v, nil
}
