package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionkv/session"
)

var statsCommand = &command{
	name:     "stats",
	synopsis: "[--store URL] [--json]",
	summary:  "counts, sizes and an expiry histogram",
	details: `
Reads every live session once (their data is not decoded, but for the
owner of each session in Django's table, which is in its data) and prints:
how many are live, how many expired ones still wait for a sweep (where the
store can count its records), how many belong to a user, their total and
percentile encoded sizes (p50, p90, p99, max), and a histogram of the time
left until they expire. With the default expiry, two weeks after the last
save, a session that expires in d was last saved two weeks minus d ago.`,
	example: `
SESSION_FILE_PATH=/var/lib/app sessionctl stats
sessionctl stats --store file:/var/lib/app/sessions --json | jq .size.p99`,
	run: runStats,
}

// bucket is one bar of the expiry histogram: sessions that expire in less
// than Below (the last bucket has none).
type bucket struct {
	Label string `json:"label"`
	// BelowSeconds is the bucket's upper bound in seconds; 0 for the last,
	// unbounded one.
	BelowSeconds int64 `json:"below_seconds"`
	Count        int   `json:"count"`
}

// bucketBounds are the upper bounds of the histogram's buckets.
var bucketBounds = []time.Duration{time.Hour, 6 * time.Hour, day, 3 * day, 7 * day, 14 * day}

func newBuckets() []bucket {
	b := make([]bucket, 0, len(bucketBounds)+1)
	lower := "0"
	for _, d := range bucketBounds {
		b = append(b, bucket{Label: lower + " - " + humanUnit(d), BelowSeconds: int64(d / time.Second)})
		lower = humanUnit(d)
	}
	return append(b, bucket{Label: lower + " or more"})
}

// humanUnit formats a whole number of days or hours: "6h", "14d".
func humanUnit(d time.Duration) string {
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

// sizeStats summarises the encoded sizes of sessions, in bytes.
type sizeStats struct {
	Total int64 `json:"total"`
	Mean  int64 `json:"mean"`
	P50   int   `json:"p50"`
	P90   int   `json:"p90"`
	P99   int   `json:"p99"`
	Max   int   `json:"max"`
}

// summarize computes sizeStats; it sorts sizes.
func summarize(sizes []int32) sizeStats {
	var s sizeStats
	if len(sizes) == 0 {
		return s
	}
	slices.Sort(sizes)
	for _, n := range sizes {
		s.Total += int64(n)
	}
	s.Mean = s.Total / int64(len(sizes))
	s.P50, s.P90, s.P99 = percentile(sizes, 50), percentile(sizes, 90), percentile(sizes, 99)
	s.Max = int(sizes[len(sizes)-1])
	return s
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []int32, p int) int {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return int(sorted[max(rank, 1)-1])
}

// statsResult is the output of stats.
type statsResult struct {
	Store string `json:"store"`
	Live  int    `json:"live"`
	// Stored counts records, expired ones included; null when the store
	// cannot tell.
	Stored *int `json:"stored"`
	// Expired is Stored minus Live; null when Stored is.
	Expired   *int      `json:"expired"`
	WithUser  int       `json:"with_user"`
	Size      sizeStats `json:"size"`
	ExpiresIn []bucket  `json:"expires_in"`
}

func runStats(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	storeURL := storeFlag(fs)
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	o, err := a.open(*storeURL, true)
	if err != nil {
		return err
	}
	defer closeStore(o, &err)
	res, err := a.collectStats(ctx, o.Store)
	if err != nil {
		return err
	}
	res.Store = o.Spec.String()
	if a.json {
		return a.printJSON(res)
	}
	return a.printStats(res)
}

// collectStats reads every live record of st once.
func (a *app) collectStats(ctx context.Context, st session.Store) (statsResult, error) {
	res := statsResult{ExpiresIn: newBuckets()}
	stored, ok, err := storedCount(ctx, st)
	if err != nil {
		return res, fmt.Errorf("count records: %w", err)
	}
	var sizes []int32
	now := time.Now()
	err = a.scan(ctx, st, "reading sessions", func(_ string, rec session.Record) (bool, error) {
		sizes = append(sizes, int32(min(len(rec.Data), 1<<31-1)))
		if rec.UserID != "" {
			res.WithUser++
		}
		res.ExpiresIn[bucketOf(rec.Expires.Sub(now))].Count++
		return true, nil
	})
	if err != nil {
		return res, err
	}
	res.Live = len(sizes)
	res.Size = summarize(sizes)
	if ok {
		c := liveCount{live: res.Live, stored: stored, storedOK: true}
		res.Stored, res.Expired = &stored, c.expired()
	}
	return res, nil
}

// bucketOf returns the index of the histogram bucket of a time to expiry.
func bucketOf(left time.Duration) int {
	for i, b := range bucketBounds {
		if left < b {
			return i
		}
	}
	return len(bucketBounds)
}

func (a *app) printStats(r statsResult) error {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "store\t%s\n", printable(r.Store))
	expired := "expired: unknown to this store"
	if r.Expired != nil {
		expired = fmt.Sprintf("%d expired (not yet swept)", *r.Expired)
	}
	fmt.Fprintf(w, "sessions\t%d live, %s, %d with a user\n", r.Live, expired, r.WithUser)
	s := r.Size
	fmt.Fprintf(w, "size\ttotal %s, mean %s, p50 %s, p90 %s, p99 %s, max %s\n",
		humanBytes(s.Total), humanBytes(s.Mean), humanBytes(int64(s.P50)),
		humanBytes(int64(s.P90)), humanBytes(int64(s.P99)), humanBytes(int64(s.Max)))
	fmt.Fprintf(w, "expires in\t\n")
	for _, b := range r.ExpiresIn {
		fmt.Fprintf(w, "  %s\t%d\t%s\n", b.Label, b.Count, histBar(b.Count, r.Live))
	}
	return w.Flush()
}

// histBar draws count out of total as up to 40 hashes.
func histBar(count, total int) string {
	if total == 0 || count == 0 {
		return ""
	}
	return strings.Repeat("#", max(1, count*40/total))
}

// liveCount is how many live records a scan saw and how many records the
// store holds.
type liveCount struct {
	live     int
	stored   int
	storedOK bool
}

// expired returns stored minus live, or nil when the store cannot count
// its records. Records that expire or are written during the scan make it
// an estimate.
func (c liveCount) expired() *int {
	if !c.storedOK {
		return nil
	}
	n := max(c.stored-c.live, 0)
	return &n
}

// countLive counts the records of st and the live ones among them.
func (a *app) countLive(ctx context.Context, st session.Store) (liveCount, error) {
	var c liveCount
	var err error
	c.stored, c.storedOK, err = storedCount(ctx, st)
	if err != nil {
		return c, fmt.Errorf("count records: %w", err)
	}
	err = a.scan(ctx, st, "counting sessions", func(string, session.Record) (bool, error) {
		c.live++
		return true, nil
	})
	return c, err
}
