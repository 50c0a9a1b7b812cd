//go:build !unix

package main

import "os"

// chownLike does nothing where files have no Unix owner.
func chownLike(string, os.FileInfo) error { return nil }

// canSyncAll is false: stores keep their own fsync per write here.
const canSyncAll = false

func syncAll() error { return nil }
