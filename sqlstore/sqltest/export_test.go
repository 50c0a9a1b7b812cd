package sqltest

import "errors"

// Pid returns the process ID of the server's main process, or 0 when it
// is down.
func Pid(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// SweepDir removes the work directory dir if the test binary that made it
// is gone, however recently it changed.
func SweepDir(dir string) { sweepDir(dir, 0) }

// LaunchMissing launches a server of a kind whose programs are missing.
func LaunchMissing() error {
	f := &flavor{name: "NoSQL", pkg: "nosql-server", install: func() (*install, error) {
		return nil, errors.New("nosqld is nowhere")
	}}
	_, err := launch(f)
	return err
}
