package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"
)

// maxRequests caps the distinct prepared requests of a case; with more
// sessions than that, the requests are spread over the whole store.
const maxRequests = 4096

// requestSpread is a prime step: request k goes to session k*requestSpread
// mod n, which visits distinct sessions spread over the whole store.
const requestSpread = 7919

// responseWriter is the least a handler can write to, so that the request
// cycles measure the sessions rather than a recorder. It keeps the first
// status, and the start of the body of an error response.
type responseWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.status >= 400 && len(w.body) < 256 {
		w.body = append(w.body, p...)
	}
	return len(p), nil
}

// cycleOp returns the op of a request-cycle case: request i goes, with its
// session's cookie, through the subject's handler and must be answered 204.
// Every contender, the floor included, pays the same harness: a shallow
// copy of a prepared request (some libraries store state in the request)
// and a fresh header map.
func cycleOp(ctx context.Context, s *subject, sessions int) func(worker, i int) error {
	reqs := make([]*http.Request, min(sessions, maxRequests))
	for k := range reqs {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		r.AddCookie(s.cookie(k * requestSpread % sessions))
		reqs[k] = r
	}
	return func(_, i int) error {
		r := *reqs[i%len(reqs)]
		w := responseWriter{header: make(http.Header, 4)}
		s.handler.ServeHTTP(&w, &r)
		if w.status != http.StatusNoContent {
			return fmt.Errorf("status %d: %s", w.status, w.body)
		}
		return nil
	}
}

// cycleGroup measures one request cycle per contender and concurrency, each
// contender holding Plan.Sessions sessions.
func (r *runner) cycleGroup() (err error) {
	var cases []*benchCase
	var closers []func() error
	defer func() { err = errors.Join(err, r.closeAll(closers)) }()
	// The cases run by number of clients, so that the contenders compared
	// run close together in each round.
	ops := map[string]func(int, int) error{}
	for _, conc := range r.plan.Concurrency {
		for _, c := range contenders() {
			name := cycleName(c.name, conc)
			if !r.plan.wants(name) {
				continue
			}
			if ok, err := r.available(c.name, c.server); err != nil || !ok {
				if err != nil {
					return fmt.Errorf("bench: %s: %w", c.name, err)
				}
				continue
			}
			if ops[c.name] == nil {
				s, err := c.new(r.env, r.plan.Sessions)
				if err != nil {
					return fmt.Errorf("bench: %s: %w", c.name, err)
				}
				closers = append(closers, s.close)
				ops[c.name] = cycleOp(r.env.ctx, s, r.plan.Sessions)
			}
			cases = append(cases, &benchCase{
				Result: Result{Name: name, Group: "cycle", Contender: c.name, Library: c.library, Concurrency: conc},
				op:     ops[c.name],
			})
		}
	}
	return r.measure(cases)
}

func cycleName(contender string, conc int) string {
	return fmt.Sprintf("cycle/%s/c=%d", contender, conc)
}

func sizeName(contender string, n int) string {
	return fmt.Sprintf("size/%s/n=%d", contender, n)
}

func keysName(contender string, keys int) string {
	return fmt.Sprintf("keys/%s/n=%d", contender, keys)
}

// sizeGroup measures the request cycle of each sized contender against
// stores of each of Plan.StoreSizes sessions, one client, the requests
// spread over the whole store. Each size is a group of its own, so only one
// size's stores exist at a time.
func (r *runner) sizeGroup() error {
	for _, n := range r.plan.StoreSizes {
		if err := r.sizeGroupOf(n); err != nil {
			return err
		}
	}
	return nil
}

// pick returns the contenders that want reports true for and whose
// server, if they need one, the run has.
func (r *runner) pick(want func(contender) bool) ([]contender, error) {
	var picked []contender
	for _, c := range contenders() {
		if !want(c) {
			continue
		}
		ok, err := r.available(c.name, c.server)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", c.name, err)
		}
		if ok {
			picked = append(picked, c)
		}
	}
	return picked, nil
}

func (r *runner) sizeGroupOf(n int) (err error) {
	picked, err := r.pick(func(c contender) bool {
		return c.sized && (!c.filePerSession || n <= r.plan.FileStoreMaxSize) && r.plan.wants(sizeName(c.name, n))
	})
	if err != nil || len(picked) == 0 {
		return err
	}
	// Large stores go as soon as they are measured.
	e, remove, err := r.env.sub(fmt.Sprintf("size-%d", n))
	if err != nil {
		return err
	}
	var cases []*benchCase
	closers := []func() error{remove}
	defer func() {
		slices.Reverse(closers) // close the stores, then remove their files
		err = errors.Join(err, r.closeAll(closers))
	}()
	for _, c := range picked {
		start := time.Now()
		s, err := c.new(e, n)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", c.name, err)
		}
		fmt.Fprintf(r.progress, "  filled %s with %d sessions in %v\n", c.name, n, time.Since(start).Round(time.Millisecond))
		closers = append(closers, s.close)
		cases = append(cases, &benchCase{
			Result: Result{Name: sizeName(c.name, n), Group: "size", Contender: c.name,
				Library: c.library, Concurrency: 1, StoreSize: n},
			op: cycleOp(r.env.ctx, s, n),
		})
	}
	return r.measure(cases)
}

// requestOp returns the op of a keys case: request i goes, with the cookie
// of session i mod sessions, through the subject's handler and must be
// answered 204. Unlike cycleOp, every request pays what a server's
// handler is given: a new request from httptest.NewRequestWithContext, its
// cookie added, and a new httptest.ResponseRecorder with its header map.
// Every contender, the floor included, pays the same.
func requestOp(ctx context.Context, s *subject, sessions int) func(worker, i int) error {
	cookies := make([]*http.Cookie, sessions)
	for j := range cookies {
		cookies[j] = s.cookie(j)
	}
	return func(_, i int) error {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		r.AddCookie(cookies[i%sessions])
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			body := w.Body.Bytes()
			return fmt.Errorf("status %d: %s", w.Code, body[:min(len(body), 256)])
		}
		return nil
	}
}

// keysGroup measures the request cycle, one client, on sessions of each of
// Plan.SessionKeys keys: each keyed contender holds Plan.Sessions sessions
// of "counter" and strings of keyValueLen bytes, and the requests go to them
// in turn. Every size runs in the same rounds, so that the growth from one
// size to another is a ratio within each round. The cases run contender by
// contender, by growing size: a case that follows one of the largest
// sessions pays for the memory that one left behind, and this way only the
// smallest sizes, which no target reads, do.
func (r *runner) keysGroup() (err error) {
	picked, err := r.pick(func(c contender) bool {
		return c.keyed && slices.ContainsFunc(r.plan.SessionKeys, func(n int) bool { return r.plan.wants(keysName(c.name, n)) })
	})
	if err != nil || len(picked) == 0 {
		return err
	}
	e, remove, err := r.env.sub("keys")
	if err != nil {
		return err
	}
	closers := []func() error{remove}
	defer func() {
		slices.Reverse(closers) // close the stores, then remove their files
		err = errors.Join(err, r.closeAll(closers))
	}()
	held := map[int]*env{}
	for _, n := range r.plan.SessionKeys {
		data, err := newSessionData(r.env.ctx, sessionOfKeys(n))
		if err != nil {
			return fmt.Errorf("bench: session of %d keys: %w", n, err)
		}
		held[n] = e.holding(data)
	}
	var cases []*benchCase
	for _, c := range picked {
		for _, n := range r.plan.SessionKeys {
			name := keysName(c.name, n)
			if !r.plan.wants(name) {
				continue
			}
			s, err := c.new(held[n], r.plan.Sessions)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", name, err)
			}
			closers = append(closers, s.close)
			op := requestOp(r.env.ctx, s, r.plan.Sessions)
			// One request per session first, so that calibration does not
			// take the first load of a large session for its cost.
			if err := spread(r.plan.Sessions, 1, op); err != nil {
				return fmt.Errorf("bench: %s: %w", name, err)
			}
			cases = append(cases, &benchCase{
				Result: Result{Name: name, Group: "keys", Contender: c.name, Library: c.library,
					Concurrency: 1, SessionKeys: n},
				op: op,
			})
		}
	}
	return r.measure(cases)
}
