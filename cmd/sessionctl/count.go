package main

import (
	"context"

	"github.com/sessionkv/session"
)

// storedCount returns how many records st holds, expired ones included
// until they are swept, when the store can tell without reading them
// (session.Counter). ok is false for other stores. Records saved or deleted
// meanwhile may or may not be counted.
func storedCount(ctx context.Context, st session.Store) (n int, ok bool, err error) {
	c, ok := session.As[session.Counter](st)
	if !ok {
		return 0, false, nil
	}
	n, err = c.Count(ctx)
	return n, err == nil, err
}
