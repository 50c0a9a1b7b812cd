// Package bench measures sessionkv side by side with the session libraries
// Go users would pick instead, on the same machine and in the same run.
//
// # Basics
//
// Run executes a Plan (Smoke, Quick or Full) and returns Results, which
// WriteTable, WriteJSON, WriteReport and WriteCharts turn into a table, a
// results.json file, a Markdown report with the ratios against each peer
// and the targets met or missed, and PNG charts. The sessionbench command
// (cmd/sessionbench) does all of that in one step.
//
// Cases are grouped by what they compare: one HTTP request cycle through
// each library's middleware ("cycle", plus the "floor" of the same harness
// without any session), store Load and Save ("store"), codec round trips
// ("codec"), request cycles against stores of growing size ("size"),
// request cycles on sessions of growing numbers of keys, each request made
// and recorded anew as a server's are ("keys"), sweeps of expired sessions
// ("sweep") and durable commits from concurrent clients ("commit"). Every case of a group is measured in rounds: each
// round runs every case in turn, in an order shuffled anew each round and
// with the disk synced before each case, so that the load of a shared
// machine, and what one case leaves behind for the next, weigh on all
// contenders alike; the figures are the median over the rounds, with their
// spread.
//
// # Adding a contender
//
// A new sessionkv store is one entry in the stores table (contenders.go):
// it is then measured at the store level and, through the middleware, in
// the request cycle. Any other way of serving the request cycle, a peer
// library or a client-side store, is one entry in the peers table. The
// targets the report checks are the entries of the targets table
// (targets.go); a target whose case does not exist yet is reported as not
// measured.
//
// # Servers
//
// The Redis contenders share one server: the one at Plan.RedisURL, or a
// redis-server the run starts for itself (free loopback port, temporary
// directory, no persistence) and stops before Run returns. Without either,
// they are listed in Results.Skipped as not measured, and the run goes on.
//
// The PostgreSQL and MariaDB contenders (sessionkv's sqlstore, scs's
// postgresstore and mysqlstore) likewise share one server of each: the
// one at Plan.PostgresURL or Plan.MySQLURL, or a throwaway one the run
// launches through sqlstore/sqltest when the server's programs are
// installed (durable settings, data in os.TempDir()) and stops before Run
// returns. Each store gets a database of its own there, dropped when it is
// done. sqltest keeps the templates its servers are copied from for the
// later runs of the process: a program that calls Run should call
// sqltest.StopShared before it exits, as sessionbench does.
//
// # Caveats
//
// Allocations are read from runtime.MemStats around each round, so cases
// run by several goroutines count everything the process allocated
// meanwhile, the workers' own bookkeeping included. Durable cases measure
// the disk under the directory given in Plan.TempDir as much as the code.
package bench
