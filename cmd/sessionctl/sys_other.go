//go:build !unix

package main

import "os"

// chownLike does nothing where files have no Unix owner.
func chownLike(string, os.FileInfo) error { return nil }

// canSyncAll is false: stores keep their own fsync per write here.
const canSyncAll = false

func syncAll() error { return nil }

// diskSize returns fi's size: the bytes its file takes on disk are not
// known here.
func diskSize(fi os.FileInfo) int64 { return fi.Size() }
