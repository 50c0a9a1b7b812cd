// Package storeconfig opens the session store that the SESSION_ENGINE and
// SESSION_FILE_PATH environment variables name, so that the demo server and
// the operator tools agree on where sessions live.
//
// Open and FromEnv are safe for concurrent use; what an opened store can
// lose in a crash is documented by that store's package.
package storeconfig

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/memstore"
)

// Environment variable names, as in Django's settings.
const (
	EnvEngine   = "SESSION_ENGINE"
	EnvFilePath = "SESSION_FILE_PATH"
)

// DefaultEngine is the engine used when SESSION_ENGINE is unset: the
// embedded bbolt database.
const DefaultEngine = "bolt"

// Opened is an open store and what to tell the operator about it.
type Opened struct {
	Store session.Store
	// Where says in words where sessions are kept.
	Where string
	// Engine is the engine name that was opened.
	Engine string
}

// Close closes the store if it has a Close method.
func (o *Opened) Close() error {
	if c, ok := o.Store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

type opener func(filePath string) (*Opened, error)

var engines = map[string]opener{
	"memory": func(string) (*Opened, error) {
		return &Opened{Store: memstore.New(), Where: "in process memory (lost on exit)"}, nil
	},
	// bolt keeps sessions.db in SESSION_FILE_PATH, else the temp dir.
	"bolt": func(dir string) (*Opened, error) {
		path := boltstore.DefaultPath()
		if dir != "" {
			path = filepath.Join(dir, boltstore.DefaultFileName)
		}
		s, err := boltstore.Open(path, nil)
		if err != nil {
			return nil, err
		}
		return &Opened{Store: s, Where: "bbolt database " + path}, nil
	},
	// file keeps one file per session in SESSION_FILE_PATH, else a
	// sessionkv folder in the temp dir.
	"file": func(dir string) (*Opened, error) {
		s, err := filestore.New(dir, nil)
		if err != nil {
			return nil, err
		}
		return &Opened{Store: s, Where: "one file per session under " + s.Dir()}, nil
	},
}

// Engines returns the engine names Open accepts, sorted.
func Engines() []string {
	names := make([]string, 0, len(engines))
	for n := range engines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FromEnv opens the store named by SESSION_ENGINE (default DefaultEngine)
// with SESSION_FILE_PATH.
func FromEnv() (*Opened, error) {
	return Open(os.Getenv(EnvEngine), os.Getenv(EnvFilePath))
}

// Open opens the named engine ("" means DefaultEngine). filePath is the
// directory for file-backed engines ("" means the engine's default).
func Open(engine, filePath string) (*Opened, error) {
	name := strings.ToLower(strings.TrimSpace(engine))
	if name == "" {
		name = DefaultEngine
	}
	open, ok := engines[name]
	if !ok {
		return nil, fmt.Errorf("unknown %s %q (known: %s)", EnvEngine, engine, strings.Join(Engines(), ", "))
	}
	o, err := open(filePath)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvEngine, name, err)
	}
	o.Engine = name
	return o, nil
}
