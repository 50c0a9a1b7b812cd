package closer

import (
	"context"
	"errors"
	"testing"

	"github.com/sessionkv/session"
)

func TestFlag(t *testing.T) {
	var f Flag
	if err := f.Check(context.Background()); err != nil {
		t.Fatalf("open flag: Check = %v", err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Check(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: Check = %v; want context.Canceled", err)
	}
	if f.Close() {
		t.Fatal("first Close reported the flag already closed")
	}
	if !f.Close() {
		t.Fatal("second Close reported the flag open")
	}
	if err := f.Check(context.Background()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("closed flag: Check = %v; want session.ErrClosed", err)
	}
	if err := f.Check(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("closed flag, canceled context: Check = %v; want the context's error first", err)
	}
}
