package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxExamples is how many failure descriptions a Result keeps.
const maxExamples = 5

// Config describes one load run.
type Config struct {
	// BaseURL is the demo's base URL, e.g. Demo.URL.
	BaseURL string
	// Users is the number of virtual users, which is also the number of
	// connections: each user sends one request at a time.
	Users int
	// Duration is how long users keep starting new requests. Requests in
	// flight when it ends are completed, not cancelled, so that every
	// increment is known to have happened or not.
	Duration time.Duration
	// Timeout bounds every request, connection included.
	Timeout time.Duration
}

// Result is what a load run observed. Counts are over all users.
type Result struct {
	// Requests is the number of /count/ requests answered with 200.
	Requests int
	// Errors is the number of requests that failed without an HTTP answer
	// (timeout, refused or reset connection, unreadable body).
	Errors int
	// Status5xx is the number of answers with a 5xx status.
	Status5xx int
	// OtherStatus is the number of answers that were neither 200 nor 5xx.
	OtherStatus int
	// OutOfSequence is the number of 200 answers whose counter did not
	// follow the previous answer: an increment lost or applied twice.
	OutOfSequence int
	// Lost is, summed over users, how far the counter read back at the end
	// is from the increments acknowledged (allowing one more per request that
	// got no answer); zero means no update was lost or invented.
	Lost int
	// Elapsed is the wall time from the first request to the last answer.
	Elapsed time.Duration
	// Latencies holds the duration of every answered /count/ request,
	// sorted: eight bytes per request, some 40 MB for ten minutes at full
	// speed.
	Latencies []time.Duration
	// Examples describes the first few failures.
	Examples []string
}

// Throughput returns answered requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency below which a fraction p (0 < p <= 1) of the
// answered requests fall, or 0 when there were none.
func (r *Result) Percentile(p float64) time.Duration {
	return percentile(r.Latencies, p)
}

// Run drives cfg.Users virtual users against the demo's /count/ for
// cfg.Duration, then has each read its counter back with /count/?read=1. It
// stops by itself; ctx only aborts it early.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Users <= 0 || cfg.Duration <= 0 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("soak: invalid config %+v", cfg)
	}
	transport := newTransport(cfg.Users)
	defer transport.CloseIdleConnections()
	users, err := newUsers(cfg, transport)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() { u.run(ctx, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	for _, u := range users {
		wg.Go(func() { u.verify(ctx) })
	}
	wg.Wait()
	return merge(users, elapsed), ctx.Err()
}

// newTransport returns a loopback transport that keeps one idle connection
// per user, so that users do not open a new connection per request.
func newTransport(users int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2 * users,
		MaxIdleConnsPerHost: users,
		MaxConnsPerHost:     users,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// newUsers returns cfg.Users users that share transport, each with its own
// cookie jar.
func newUsers(cfg Config, transport http.RoundTripper) ([]*user, error) {
	users := make([]*user, cfg.Users)
	for i := range users {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		users[i] = &user{
			base:   cfg.BaseURL,
			client: &http.Client{Transport: transport, Jar: jar, Timeout: cfg.Timeout},
		}
	}
	return users, nil
}

// user is one virtual user: one cookie jar, so one session, and one request
// at a time. Only its own goroutine touches it until Run merges the results.
type user struct {
	base   string
	client *http.Client

	acked      int // increments the server acknowledged with 200
	last       int // the counter in the last 200 answer
	unanswered int // requests without an answer, which may or may not have counted
	pending    int // of those, the ones since the last 200 answer
	status5xx  int
	other      int
	sequence   int // answers that did not follow the previous one
	lost       int
	latencies  []time.Duration
	examples   []string
}

// run increments the user's counter until deadline.
func (u *user) run(ctx context.Context, deadline time.Time) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		u.increment(ctx)
	}
}

// increment sends one /count/ and checks that the answer follows the last
// one. A request that got no answer may have counted on the server, so the
// next answer may be one higher per such request.
func (u *user) increment(ctx context.Context) {
	began := time.Now()
	status, body, err := u.get(ctx, "/count/")
	took := time.Since(began)
	switch {
	case err != nil:
		u.unanswered++
		u.pending++
		u.example("GET /count/: %v", err)
		return
	case status >= 500:
		u.status5xx++
		u.example("GET /count/: %d %s", status, body)
		return
	case status != http.StatusOK:
		u.other++
		u.example("GET /count/: %d %s", status, body)
		return
	}
	u.latencies = append(u.latencies, took)
	u.acked++
	n, err := strconv.Atoi(body)
	if err != nil || n < u.last+1 || n > u.last+1+u.pending {
		u.sequence++
		u.example("GET /count/ = %q after %d", body, u.last)
	}
	u.last, u.pending = n, 0
}

// verify reads the counter back. It must equal the number of acknowledged
// increments, plus at most the number of requests that got no answer.
func (u *user) verify(ctx context.Context) {
	status, body, err := u.get(ctx, "/count/?read=1")
	if err != nil || status != http.StatusOK {
		u.unanswered++
		u.lost += u.acked
		u.example("GET /count/?read=1: %d %q %v", status, body, err)
		return
	}
	n, err := strconv.Atoi(body)
	switch {
	case err != nil:
		u.lost += u.acked
	case n < u.acked:
		u.lost += u.acked - n
	case n > u.acked+u.unanswered:
		u.lost += n - u.acked - u.unanswered
	default:
		return
	}
	u.example("GET /count/?read=1 = %q, want %d (+ up to %d unanswered)", body, u.acked, u.unanswered)
}

// get sends one GET and returns the status and the trimmed body.
func (u *user) get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, "", errors.Join(errors.New("read body"), err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// example keeps a description of a failure, up to a few per user.
func (u *user) example(format string, args ...any) {
	if len(u.examples) < maxExamples {
		u.examples = append(u.examples, fmt.Sprintf(format, args...))
	}
}

// merge adds up the users' results.
func merge(users []*user, elapsed time.Duration) *Result {
	r := &Result{Elapsed: elapsed}
	for _, u := range users {
		r.Requests += u.acked
		r.Errors += u.unanswered
		r.Status5xx += u.status5xx
		r.OtherStatus += u.other
		r.OutOfSequence += u.sequence
		r.Lost += u.lost
		r.Latencies = append(r.Latencies, u.latencies...)
		for _, e := range u.examples {
			if len(r.Examples) < maxExamples {
				r.Examples = append(r.Examples, e)
			}
		}
	}
	slices.Sort(r.Latencies)
	return r
}
