//go:build !unix

package location

// check has no ownership or permission bits to look at outside Unix.
func check(string, Kind) error { return nil }
