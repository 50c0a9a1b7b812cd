//go:build !unix

package djangosession

import "os"

// openSession is os.Open (see open_unix.go).
func openSession(name string) (*os.File, error) { return os.Open(name) }
