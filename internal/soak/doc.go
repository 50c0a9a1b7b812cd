// Package soak runs cmd/sessiondemo as a real process and puts it under load
// over loopback HTTP.
//
// # Basics
//
// Build compiles the demo and Start runs it on a free 127.0.0.1 port, with the
// environment it is given; Demo.Stop ends it with SIGTERM, as an operator
// would. Run drives a running demo with a fixed number of virtual users for a
// fixed time: each user has its own cookie jar, so its own session, and
// increments that session's counter through /count/ one request at a time.
// Sampler records the demo's resident memory and goroutine count while the
// load runs, so that a test can compare the start of a run with its end.
//
// The package's test (soak_test.go) is the load and soak test of the module:
//
//	go test -run Soak ./internal/soak/                                     # 10 s
//	SOAK_DURATION=10m SOAK_REPORT=soak.json go test -run Soak -timeout 20m ./internal/soak/
//
// It is skipped under -short.
//
// # Caveats
//
// Everything here listens and connects on loopback only. A Demo owns a child
// process: stop it (tests do so in t.Cleanup). On Linux the child also gets
// SIGKILL if the process that started it dies first.
package soak
