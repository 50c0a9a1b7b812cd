package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// benchCase is one piece of work to measure.
type benchCase struct {
	Result // the identity fields: Name, Group, Contender, Concurrency, StoreSize

	// op does the i-th unit of work on the given worker goroutine
	// (0 <= worker < Concurrency). It must be safe to call from Concurrency
	// goroutines at once.
	op func(worker, i int) error
	// workers, when set, is how many goroutines call op, instead of
	// Concurrency: a case that stands for Concurrency clients in another
	// way than running them (bbolt's ideal group commit).
	workers int
	// batch, when set, is how many units of work one call of op does; the
	// figures are then per unit.
	batch int
	// before, when set, runs untimed before each measured run, which then
	// does exactly fixedOps units of work.
	before   func() error
	fixedOps int
	// perRound is the number of ops per round found by calibration.
	perRound int
	samples  []sample
}

// sample is what one round measured, per op.
type sample struct {
	ns, bytes, allocs float64
}

// run times n ops spread over the case's workers.
func (c *benchCase) run(n int) (sample, error) {
	if c.before != nil {
		if err := c.before(); err != nil {
			return sample{}, fmt.Errorf("%s: prepare: %w", c.Name, err)
		}
	}
	settle()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	err := spread(n, cmp.Or(c.workers, c.Concurrency), c.op)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m1)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	f := float64(n)
	return sample{
		ns:     float64(elapsed.Nanoseconds()) / f,
		bytes:  float64(m1.TotalAlloc-m0.TotalAlloc) / f,
		allocs: float64(m1.Mallocs-m0.Mallocs) / f,
	}, nil
}

// spread calls op n times, for i from 0 to n-1, from workers goroutines
// that take the next i as they finish the last. It stops at the first
// error.
func spread(n, workers int, op func(worker, i int) error) error {
	if workers <= 1 {
		for i := range n {
			if err := op(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && !failed.Load(); i = int(next.Add(1)) - 1 {
				if err := op(w, i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// maxPerRound bounds calibration for very cheap ops.
const maxPerRound = 50_000_000

// calibrate finds how many ops fill about target, warming the case up on
// the way.
func (c *benchCase) calibrate(target time.Duration) error {
	if c.fixedOps > 0 {
		c.perRound = c.fixedOps
		_, err := c.run(c.fixedOps) // warm-up
		return err
	}
	n := max(1, c.Concurrency)
	for {
		s, err := c.run(n)
		if err != nil {
			return err
		}
		elapsed := s.ns * float64(n)
		if elapsed >= float64(target)/4 || n >= maxPerRound {
			want := float64(target) / math.Max(s.ns, 1)
			c.perRound = int(math.Min(math.Max(want, float64(max(1, c.Concurrency))), maxPerRound))
			return nil
		}
		// Grow by what the last run suggests, within 2x to 100x.
		grow := math.Min(math.Max(float64(target)/2/math.Max(elapsed, 1), 2), 100)
		n = int(math.Min(float64(n)*grow, maxPerRound))
	}
}

// measure calibrates every case of a group, then runs rounds in which each
// case runs once, in an order shuffled anew each round, so that a burst of
// load on the machine, or what a case leaves behind for the next one, falls
// on all the cases rather than on one. (A rotation would keep every case
// behind the same neighbour in every round.) The shuffles are the same in
// every run. It writes a line per case to progress as the group completes.
func measure(cases []*benchCase, plan *Plan, progress io.Writer) error {
	for _, c := range cases {
		if err := c.calibrate(plan.RoundTime); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(uint64(len(cases)), uint64(plan.Rounds)))
	order := slices.Clone(cases)
	for range plan.Rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, c := range order {
			s, err := c.run(c.perRound)
			if err != nil {
				return err
			}
			if c.batch > 1 {
				b := float64(c.batch)
				s = sample{ns: s.ns / b, bytes: s.bytes / b, allocs: s.allocs / b}
			}
			c.samples = append(c.samples, s)
		}
	}
	for _, c := range cases {
		c.summarize()
		fmt.Fprintf(progress, "  %-52s %12s/op  [%s .. %s]\n", c.Name,
			fmtNs(c.NsPerOp), fmtNs(c.Spread.Min), fmtNs(c.Spread.Max))
	}
	return nil
}

// summarize fills the case's figures from its samples.
func (c *benchCase) summarize() {
	ns := make([]float64, len(c.samples))
	bytes := make([]float64, len(c.samples))
	allocs := make([]float64, len(c.samples))
	for i, s := range c.samples {
		ns[i], bytes[i], allocs[i] = s.ns, s.bytes, s.allocs
	}
	c.RoundNs = slices.Clone(ns)
	slices.Sort(ns)
	slices.Sort(bytes)
	slices.Sort(allocs)
	c.NsPerOp = quantile(ns, 0.5)
	c.BytesPerOp = quantile(bytes, 0.5)
	c.AllocsPerOp = quantile(allocs, 0.5)
	if c.NsPerOp > 0 {
		c.OpsPerSec = 1e9 / c.NsPerOp
	}
	c.Spread = Spread{
		Min: ns[0], P25: quantile(ns, 0.25), P75: quantile(ns, 0.75), Max: ns[len(ns)-1],
	}
	c.Rounds, c.OpsPerRound = len(c.samples), c.perRound
}

// quantile returns the q-quantile of sorted values, interpolating between
// neighbours.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	frac := pos - float64(lo)
	return sorted[lo]*(1-frac) + sorted[hi]*frac
}
