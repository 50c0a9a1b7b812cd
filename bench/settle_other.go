//go:build !unix

package bench

// settle does nothing where there is no sync(2): a case may then pay for
// the pages the case before it left unwritten.
func settle() {}
