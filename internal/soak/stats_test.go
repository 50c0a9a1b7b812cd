package soak

import (
	"maps"
	"testing"
	"time"
)

func TestPercentile_NearestRank(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var d []time.Duration
		for _, n := range ns {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(7), 1, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
		{ms(1, 2, 3), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
		}
	}
}

func TestQuarters_SplitsByTimeAndMedianIgnoresOutliers(t *testing.T) {
	var samples []Sample
	for i := range 40 {
		samples = append(samples, Sample{At: time.Duration(i) * 250 * time.Millisecond, RSS: int64(100 + i)})
	}
	samples[1].RSS = 1 << 40 // one wild reading
	first, last := Quarters(samples, 10*time.Second)
	if len(first) != 10 || len(last) != 10 {
		t.Fatalf("quarters of 40 samples over 10 s: %d and %d, want 10 and 10", len(first), len(last))
	}
	if got := Median(first, RSSOf); got != 105 {
		t.Errorf("median of the first quarter = %d, want 105", got)
	}
	if got := Median(last, RSSOf); got != 134 {
		t.Errorf("median of the last quarter = %d, want 134", got)
	}
	if got := Max(first, RSSOf); got != 1<<40 {
		t.Errorf("max of the first quarter = %d, want the outlier", got)
	}
	if got := Median(nil, RSSOf); got != 0 {
		t.Errorf("median of no samples = %d, want 0", got)
	}
}

func TestLogFields_ParsesSlogTextLine(t *testing.T) {
	line := `time=2026-01-02T03:04:05.000Z level=INFO msg="sessiondemo listening" url=http://127.0.0.1:40123/ engine=bolt sessions="/tmp/a dir/sessions.db"`
	want := map[string]string{
		"time":     "2026-01-02T03:04:05.000Z",
		"level":    "INFO",
		"msg":      "sessiondemo listening",
		"url":      "http://127.0.0.1:40123/",
		"engine":   "bolt",
		"sessions": "/tmp/a dir/sessions.db",
	}
	if got := logFields(line); !maps.Equal(got, want) {
		t.Errorf("logFields:\n got %v\nwant %v", got, want)
	}
}

func TestLogWriter_FindsListeningLineAcrossWrites(t *testing.T) {
	w := &logWriter{ready: make(chan string, 1)}
	for _, chunk := range []string{"level=INFO msg=other\nlevel=INFO msg=\"sessiondemo lis", "tening\" url=http://127.0.0.1:1/\n", "more\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case line := <-w.ready:
		if logFields(line)["url"] != "http://127.0.0.1:1/" {
			t.Errorf("listening line = %q", line)
		}
	default:
		t.Fatal("the listening line was not reported")
	}
	if got := w.String(); got != "level=INFO msg=other\nlevel=INFO msg=\"sessiondemo listening\" url=http://127.0.0.1:1/\nmore\n" {
		t.Errorf("kept log = %q", got)
	}
}
