package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened: figures from different machines
// are not comparable, only ratios within one run are.
type Machine struct {
	// CPU is the processor's model name, Cores the logical CPUs and
	// GOMAXPROCS what the run used of them.
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// GoVersion, OS, Kernel and Arch describe the software.
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel,omitempty"`
	Arch      string `json:"arch"`
	// TempDir is where the stores' files were, on a file system of type
	// TempFS: the durable cases measure its disk.
	TempDir string `json:"temp_dir"`
	TempFS  string `json:"temp_fs,omitempty"`
	// LoadAvg is the 1, 5 and 15 minute load averages when the description
	// was taken: on a shared machine, other work weighs on every figure.
	LoadAvg string `json:"load_avg,omitempty"`
	// Date is when the description was taken.
	Date time.Time `json:"date"`
}

// DescribeMachine describes the machine the process runs on; tempDir is
// where the run keeps its stores ("" for os.TempDir()).
func DescribeMachine(tempDir string) Machine {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	if abs, err := filepath.Abs(tempDir); err == nil {
		tempDir = abs
	}
	return Machine{
		CPU:        cpuModel(),
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         osName(),
		Kernel:     readLine("/proc/sys/kernel/osrelease"),
		Arch:       runtime.GOARCH,
		TempDir:    tempDir,
		TempFS:     fsType(tempDir),
		LoadAvg:    loadAvg(),
		Date:       time.Now().UTC().Truncate(time.Second),
	}
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	if v := fieldOf("/proc/cpuinfo", "model name", ':'); v != "" {
		return v
	}
	return "unknown " + runtime.GOARCH + " CPU"
}

// osName reads PRETTY_NAME from /etc/os-release, else GOOS.
func osName() string {
	if v := fieldOf("/etc/os-release", "PRETTY_NAME", '='); v != "" {
		return strings.Trim(v, `"`)
	}
	return runtime.GOOS
}

// fieldOf returns the value of the first "name<sep>value" line of a file.
func fieldOf(path, name string, sep byte) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), string(sep))
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg reads the three load averages of /proc/loadavg.
func loadAvg() string {
	f := strings.Fields(readLine("/proc/loadavg"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func readLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// fsType returns the type of the file system holding dir, from the mount
// with the longest matching mount point in /proc/mounts.
func fsType(dir string) string {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	best, typ := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mnt := fields[1]
		within := dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")
		if within && len(mnt) >= len(best) {
			best, typ = mnt, fields[2]
		}
	}
	return typ
}

// String is the machine in one line, for reports.
func (m Machine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %d cores", m.CPU, m.Cores)
	if m.GOMAXPROCS != m.Cores {
		fmt.Fprintf(&b, " (GOMAXPROCS %d)", m.GOMAXPROCS)
	}
	fmt.Fprintf(&b, ", %s", m.OS)
	if m.Kernel != "" {
		fmt.Fprintf(&b, " (kernel %s)", m.Kernel)
	}
	fmt.Fprintf(&b, ", %s %s", m.GoVersion, m.Arch)
	return b.String()
}
