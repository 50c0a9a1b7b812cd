package bench

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Chart file names, in the output directory.
const (
	ThroughputChart = "throughput.png"
	SizeChart       = "latency-by-size.png"
	KeysChart       = "cost-by-keys.png"
)

// WriteCharts draws the PNG charts of res into dir and returns the names of
// the files written: the request-cycle throughput of each contender, the
// request time against the store size, and the request time against the
// number of keys in the session. A chart without data is not drawn.
func WriteCharts(dir string, res *Results) ([]string, error) {
	var written []string
	for _, c := range []struct {
		file string
		make func(*Results) (*plot.Plot, error)
	}{{ThroughputChart, throughputPlot}, {SizeChart, sizePlot}, {KeysChart, keysPlot}} {
		p, err := c.make(res)
		if err != nil {
			return written, fmt.Errorf("bench: chart %s: %w", c.file, err)
		}
		if p == nil {
			continue
		}
		if err := p.Save(10*vg.Inch, 6*vg.Inch, filepath.Join(dir, c.file)); err != nil {
			return written, fmt.Errorf("bench: chart %s: %w", c.file, err)
		}
		written = append(written, c.file)
	}
	return written, nil
}

// throughputPlot shows the requests per second of each request-cycle
// contender, one series per number of clients, with the quartiles as error
// bars, on a log scale so that durable and in-memory stores fit together.
func throughputPlot(res *Results) (*plot.Plot, error) {
	var names []string
	var concs []int
	for _, c := range res.Cases {
		if c.Group != "cycle" {
			continue
		}
		if !slices.Contains(names, c.Contender) {
			names = append(names, c.Contender)
		}
		if !slices.Contains(concs, c.Concurrency) {
			concs = append(concs, c.Concurrency)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(concs)
	p := plot.New()
	p.Title.Text = "Request cycle throughput (median over rounds; bars: p25 to p75)\n" + caption(res)
	p.Y.Label.Text = "requests per second (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = powersOfTen{format: fmtCount}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = text.XRight
	p.X.Tick.Label.YAlign = text.YCenter
	p.Legend.Top = true
	width := 0.6 / float64(len(concs))
	for k, conc := range concs {
		var pts errorPoints
		for i, name := range names {
			c, ok := res.Find(cycleName(name, conc))
			if !ok || c.NsPerOp <= 0 {
				continue
			}
			x := float64(i) + (float64(k)-float64(len(concs)-1)/2)*width
			y := c.OpsPerSec
			pts.XYs = append(pts.XYs, plotter.XY{X: x, Y: y})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{
				Low: y - 1e9/math.Max(c.Spread.P75, 1), High: 1e9/math.Max(c.Spread.P25, 1) - y})
		}
		if len(pts.XYs) == 0 {
			continue
		}
		if err := addPoints(p, pts, k, fmt.Sprintf("%d client%s", conc, plural(conc))); err != nil {
			return nil, err
		}
	}
	headroom(p)
	return p, nil
}

// headroom widens a log-scaled y range so that the legend, at the top,
// clears the data.
func headroom(p *plot.Plot) {
	p.Y.Min, p.Y.Max = p.Y.Min/1.5, p.Y.Max*4
}

// sizePlot shows the time of one request against the number of sessions
// in the store, one line per contender, on log-log scales.
func sizePlot(res *Results) (*plot.Plot, error) {
	return timeLines(res, "size", func(c Result) int { return c.StoreSize },
		"Request cycle time versus store size (1 client, median over rounds)", "sessions in the store (log scale)")
}

// keysPlot shows the time of one request against the number of keys in
// the session, one line per contender, on log-log scales.
func keysPlot(res *Results) (*plot.Plot, error) {
	return timeLines(res, "keys", func(c Result) int { return c.SessionKeys },
		"Request time versus keys in the session (1 client, fresh request and recorder, median over rounds)",
		"keys in the session (log scale)")
}

// timeLines shows the time per op of the cases of group against x, one
// line per contender, on log-log scales; nil if the group has no case.
func timeLines(res *Results, group string, x func(Result) int, title, xLabel string) (*plot.Plot, error) {
	var names []string
	series := map[string]plotter.XYs{}
	for _, c := range res.Cases {
		if c.Group != group || c.NsPerOp <= 0 || x(c) <= 0 {
			continue
		}
		if _, ok := series[c.Contender]; !ok {
			names = append(names, c.Contender)
		}
		series[c.Contender] = append(series[c.Contender], plotter.XY{X: float64(x(c)), Y: c.NsPerOp})
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = title + "\n" + caption(res)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = "time per request (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = powersOfTen{format: fmtCount}
	p.Y.Tick.Marker = powersOfTen{format: func(ns float64) string { return time.Duration(ns).String() }}
	p.Legend.Top = true
	p.Legend.Left = true
	for i, name := range names {
		xys := series[name]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		lp, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		lp.Color = plotutil.Color(i)
		lp.Width = vg.Points(1.5)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(3)
		p.Add(lp, pts)
		p.Legend.Add(name, lp, pts)
	}
	// Pad the x range so the first and last points are not on the frame.
	p.X.Min, p.X.Max = p.X.Min/1.5, p.X.Max*1.5
	headroom(p)
	return p, nil
}

// caption says where and when the figures were made.
func caption(res *Results) string {
	m := res.Machine
	return fmt.Sprintf("%s, %d cores, %s, %s, %s mode", m.CPU, m.Cores, m.GoVersion, m.Date.Format("2006-01-02"), res.Mode)
}

// errorPoints are points with vertical error bars.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

// addPoints adds one series of points with error bars, in the k-th style.
func addPoints(p *plot.Plot, pts errorPoints, k int, label string) error {
	s, err := plotter.NewScatter(pts.XYs)
	if err != nil {
		return err
	}
	s.GlyphStyle.Color = plotutil.Color(k)
	s.GlyphStyle.Shape = plotutil.Shape(k)
	s.GlyphStyle.Radius = vg.Points(3.5)
	bars, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return err
	}
	bars.LineStyle.Color = plotutil.Color(k)
	bars.LineStyle.Width = vg.Points(1)
	bars.CapWidth = vg.Points(5)
	p.Add(bars, s)
	p.Legend.Add(label, s)
	return nil
}

// powersOfTen marks the powers of ten of a log axis, labelled with format,
// and their 2 and 5 multiples, labelled too when the axis spans less than
// three powers of ten.
type powersOfTen struct{ format func(float64) string }

// Ticks implements plot.Ticker.
func (t powersOfTen) Ticks(lo, hi float64) []plot.Tick {
	labelAll := hi/lo < 1000
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for _, m := range []float64{1, 2, 5} {
			v := p * m
			if v < lo || v > hi {
				continue
			}
			tick := plot.Tick{Value: v}
			if m == 1 || labelAll {
				tick.Label = t.format(v)
			}
			ticks = append(ticks, tick)
		}
	}
	return ticks
}

// fmtCount formats a count with k and M suffixes.
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
