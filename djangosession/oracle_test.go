package djangosession_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// RequireEnv is the environment variable that, set to "1", turns a missing
// Django into a test failure instead of a skip; CI sets it so that the
// tests against Django always run there.
const requireEnv = "SESSIONKV_REQUIRE_DJANGO"

// python is the interpreter of the Debian package python3-django.
const python = "/usr/bin/python3"

var (
	djangoOnce    sync.Once
	djangoVersion string
	djangoErr     error
	skipNotice    sync.Once
)

// requireDjango skips tb (or fails it when requireEnv is "1") unless
// /usr/bin/python3 can import Django.
func requireDjango(tb testing.TB) {
	tb.Helper()
	djangoOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import django; print(django.get_version())").CombinedOutput()
		if err != nil {
			// The last line of a traceback says what went wrong.
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			djangoErr = fmt.Errorf("%v: %s", err, lines[len(lines)-1])
			return
		}
		djangoVersion = strings.TrimSpace(string(out))
	})
	if djangoErr == nil {
		return
	}
	msg := fmt.Sprintf("djangosession: %s cannot import django (%v), so the tests against Django do not run "+
		"(install the python3-django package, e.g. with scripts/django-deps.sh)", python, djangoErr)
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("%s; %s=1 requires them", msg, requireEnv)
	}
	skipNotice.Do(func() { fmt.Fprintln(os.Stderr, "SKIP", msg) })
	tb.Skip(msg)
}

// pythonZlib is the version of the zlib Django's Python uses, as the last
// runDjango reported it.
var pythonZlib atomic.Pointer[string]

// op is one request to testdata/django_oracle.py; see its docstring.
type op map[string]any

// result is the answer to one op.
type result struct {
	Out    string `json:"out"`
	Error  string `json:"error"`
	Reset  bool   `json:"reset"`
	Canon  string `json:"canon"`
	Valid  bool   `json:"valid"`
	FileOK bool   `json:"file_ok"`
	// Exists, Age and BrowserClose answer the file backend's ops.
	Exists       bool     `json:"exists"`
	Age          *float64 `json:"age"`
	BrowserClose bool     `json:"browser_close"`
}

// runDjango runs ops in one Python process with Django configured, and
// returns their results in order. It skips tb as requireDjango does.
func runDjango(tb testing.TB, ops []op) []result {
	tb.Helper()
	requireDjango(tb)
	in, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/django_oracle.py")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("django_oracle.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Results []result
		Zlib    string
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		tb.Fatalf("django_oracle.py output: %v\n%s", err, stdout.String())
	}
	pythonZlib.Store(&res.Zlib)
	if len(res.Results) != len(ops) {
		tb.Fatalf("django_oracle.py: %d results for %d ops", len(res.Results), len(ops))
	}
	return res.Results
}
