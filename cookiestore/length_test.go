package cookiestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cookiestore"
)

// sealedLen saves a new session holding values, owned by uid, and returns
// the length of its cookie value.
func sealedLen(t *testing.T, env *env, uid string, values map[string]any) (int, error) {
	t.Helper()
	ctx := context.Background()
	s, err := env.engine.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetUserID(uid)
	s.Update(values)
	if err := env.engine.Save(ctx, s); err != nil {
		if !errors.Is(err, session.ErrCookieTooLarge) {
			t.Fatalf("Save = %v, want nil or ErrCookieTooLarge", err)
		}
		return 0, err
	}
	return len(s.ID()), nil
}

// TestLength_NoCompressionOracle sets up CRIME/BREACH: a secret CSRF token
// beside a "next" URL the attacker chooses, in a session large enough to be
// worth compressing. The guesses all have the same length; one is the
// secret's first 12 characters. If the right guess gave a shorter cookie,
// the attacker, who sees cookie lengths on the wire, would learn the
// secret. With the default options every guess gives a cookie of the same
// length.
func TestLength_NoCompressionOracle(t *testing.T) {
	const secret = "p8UWZ3vL0rN7c2qK9xY4tB6mE1sH5jDf"
	guesses := []string{
		secret[:12], // the right one
		"Qm4TzR8wLcVa",
		"x2NbH7kJpE5s",
		"G9dFa3YhWq6R",
		"b7TnK2mXc9Lw",
	}
	env := newEnv(t, nil)
	lens := make([]int, len(guesses))
	for i, guess := range guesses {
		n, err := sealedLen(t, env, "8412", map[string]any{
			"csrf_token": secret,
			"next":       "/search?q=" + guess,
			"history":    strings.Repeat("/products/garden-chair?colour=green\n", 32),
		})
		if err != nil {
			t.Fatalf("guess %q: %v", guess, err)
		}
		lens[i] = n
	}
	for i, n := range lens[1:] {
		if n != lens[0] {
			t.Fatalf("cookie lengths depend on the guess: the secret's prefix gives %d bytes, wrong guesses %v (%q gives %d)",
				lens[0], lens[1:], guesses[i+1], n)
		}
	}
}

// TestLength_DependsOnlyOnTheLengthsOfWhatIsStored is a property test: two
// sessions whose stored strings and user IDs have the same lengths, one
// random and one repetitive, seal to cookies of the same length (or both
// fail as too large), in encrypted and in sign-only mode.
func TestLength_DependsOnlyOnTheLengthsOfWhatIsStored(t *testing.T) {
	randomString := func(rng *rand.Rand, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(' ' + rng.IntN('~'-' '+1))
		}
		return string(b)
	}
	for _, signOnly := range []bool{false, true} {
		env := newEnv(t, &cookiestore.Options{SignOnly: signOnly})
		rng := rand.New(rand.NewPCG(2026, 5))
		fits := 0
		for i := range 300 {
			random, repetitive := map[string]any{}, map[string]any{}
			for k := range 1 + rng.IntN(4) {
				n := rng.IntN(1200)
				if rng.IntN(4) == 0 {
					n = rng.IntN(40)
				}
				key := fmt.Sprint("key", k)
				random[key] = randomString(rng, n)
				repetitive[key] = strings.Repeat("a", n)
			}
			uidLen := rng.IntN(40)
			a, errA := sealedLen(t, env, randomString(rng, uidLen), random)
			b, errB := sealedLen(t, env, strings.Repeat("7", uidLen), repetitive)
			if (errA == nil) != (errB == nil) || a != b {
				t.Fatalf("signOnly=%v, case %d: random strings give %d bytes (%v), repetitive ones of the same lengths %d (%v)",
					signOnly, i, a, errA, b, errB)
			}
			if errA == nil {
				fits++
			}
		}
		if fits < 100 {
			t.Fatalf("signOnly=%v: only %d of 300 cases fit in a cookie: the property was hardly checked", signOnly, fits)
		}
	}
}
