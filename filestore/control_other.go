//go:build !unix

package filestore

import (
	"io/fs"
	"log/slog"
)

// checkControl has no portable notion of ownership or permission bits to
// check outside Unix.
func checkControl(string, fs.FileInfo, bool, *slog.Logger) error { return nil }
