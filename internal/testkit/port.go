package testkit

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// minServerPort is the lowest port FreePort hands out, clear of the
// well-known and registered ports daemons usually hold.
const minServerPort = 10000

// FreePort returns a loopback TCP port that is free now, as are port+off
// for every off in offsets (a Redis cluster node also needs its bus port,
// port+10000). Another process may still take it before the caller binds
// it, so callers retry on "address in use".
//
// The port lies below the kernel's range of ephemeral ports. A test server
// that is killed and restarted on its port needs that: while nothing
// listens there, a client redialling it from an ephemeral port can be given
// that very port as its own source and connect to itself (TCP's
// simultaneous open), and the stray socket then holds the port against the
// server's restart. Clients never take a port outside the ephemeral range.
func FreePort(offsets ...int) (int, error) {
	span := 0
	for _, off := range offsets {
		span = max(span, off)
	}
	hi := ephemeralLow() - span // exclusive
	if hi <= minServerPort {
		return 0, errors.New("testkit: no loopback port range below the ephemeral ports")
	}
	for range 200 {
		port := minServerPort + rand.IntN(hi-minServerPort)
		if !portFree(port) {
			continue
		}
		free := true
		for _, off := range offsets {
			if !portFree(port + off) {
				free = false
				break
			}
		}
		if free {
			return port, nil
		}
	}
	return 0, errors.New("testkit: no free loopback port found")
}

// ephemeralLow returns the first port of the kernel's ephemeral range: from
// /proc on Linux, else IANA's 49152, the BSDs' and macOS's default.
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 49152
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
