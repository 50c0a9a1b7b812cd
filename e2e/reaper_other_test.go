//go:build !linux

package e2e

import (
	"testing"
	"time"
)

// adoptOrphans does nothing where a process cannot adopt its orphaned
// descendants.
func adoptOrphans(*testing.T) {}

// reapChromium does nothing where adoptOrphans does nothing.
func reapChromium(*testing.T, time.Duration) {}
