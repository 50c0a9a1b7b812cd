package soak

import (
	"math"
	"slices"
	"time"
)

// percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted, or 0
// when it is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Quarters returns the samples taken in the first and in the last quarter of
// a run that lasted total.
func Quarters(samples []Sample, total time.Duration) (first, last []Sample) {
	for _, s := range samples {
		switch {
		case s.At < total/4:
			first = append(first, s)
		case s.At >= total-total/4:
			last = append(last, s)
		}
	}
	return first, last
}

// Median returns the median of field over samples (the lower middle value for
// an even count), or 0 for no samples. A median, not a mean or a maximum,
// keeps one reading taken during a garbage collection or a burst of
// connections from deciding a leak check.
func Median(samples []Sample, field func(Sample) int64) int64 {
	if len(samples) == 0 {
		return 0
	}
	values := make([]int64, len(samples))
	for i, s := range samples {
		values[i] = field(s)
	}
	slices.Sort(values)
	return values[(len(values)-1)/2]
}

// Fields of a Sample, for Median.
var (
	// RSSOf selects Sample.RSS.
	RSSOf = func(s Sample) int64 { return s.RSS }
	// GoroutinesOf selects Sample.Goroutines.
	GoroutinesOf = func(s Sample) int64 { return int64(s.Goroutines) }
	// HeapAllocOf selects Sample.HeapAlloc.
	HeapAllocOf = func(s Sample) int64 { return s.HeapAlloc }
)

// Max returns the largest value of field over samples, or 0 for none.
func Max(samples []Sample, field func(Sample) int64) int64 {
	var m int64
	for _, s := range samples {
		m = max(m, field(s))
	}
	return m
}
