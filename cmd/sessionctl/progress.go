package main

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar on stderr. A nil *progress draws nothing, so
// commands call it unconditionally. It is not safe for concurrent use.
type progress struct {
	bar   *progressbar.ProgressBar
	total int64 // the bar's maximum; 0 when unknown (a spinner)
	done  int64
}

// counter returns a bar counting items towards total, with rate and ETA;
// total <= 0 (unknown) gives a spinner with the count, rate and elapsed
// time. It returns nil when progress bars are off.
func (a *app) counter(desc, unit string, total int64) *progress {
	if !a.progress {
		return nil
	}
	return newProgress(a, desc, total,
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit))
}

// bytes returns a bar counting bytes towards total, with rate and ETA, or
// nil when progress bars are off.
func (a *app) bytes(desc string, total int64) *progress {
	if !a.progress {
		return nil
	}
	return newProgress(a, desc, total, progressbar.OptionShowBytes(true))
}

// spinner returns a bar for work whose size is unknown until it ends: it
// shows the elapsed time. It returns nil when progress bars are off.
func (a *app) spinner(desc string) *progress {
	if !a.progress {
		return nil
	}
	p := newProgress(a, desc, 0)
	_ = p.bar.RenderBlank()
	return p
}

func newProgress(a *app, desc string, total int64, opts ...progressbar.Option) *progress {
	limit := total
	if limit <= 0 {
		limit, total = -1, 0 // -1 makes a spinner
	}
	opts = append(opts,
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &progress{bar: progressbar.NewOptions64(limit, opts...), total: total}
}

// add counts n more items (or bytes). The total grows if the work turns
// out larger than estimated.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.done += int64(n)
	if p.total > 0 && p.done > p.total {
		p.total = p.done
		p.bar.ChangeMax64(p.total)
	}
	_ = p.bar.Add(n)
}

// set moves the bar to n items (or bytes), capped at the total.
func (p *progress) set(n int64) {
	if p == nil {
		return
	}
	if p.total > 0 && n > p.total {
		n = p.total
	}
	p.add(int(n - p.done))
}

// finish removes the bar from the terminal.
func (p *progress) finish() {
	if p == nil {
		return
	}
	_ = p.bar.Finish() // with OptionClearOnFinish, this erases the bar
}
