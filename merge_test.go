package session

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// twoTabs loads the same stored session twice, as two concurrent requests
// would.
func twoTabs(t *testing.T, env *testEnv, values map[string]any) (id string, a, b *Session) {
	t.Helper()
	id = env.saved(t, values)
	a, b = env.load(t, id), env.load(t, id)
	a.Len()
	b.Len()
	return id, a, b
}

func saveAll(t *testing.T, env *testEnv, ss ...*Session) {
	t.Helper()
	for _, s := range ss {
		if err := env.engine.Save(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCommit_MergesConcurrentChanges(t *testing.T) {
	for _, codec := range []Codec{MsgpackCodec{}, JSONCodec{}} {
		t.Run(codecName(codec), func(t *testing.T) {
			env := newEnv(t, func(o *Options) { o.Codec = codec })
			id, a, b := twoTabs(t, env, map[string]any{"keep": "x", "gone": 1, "both": "old"})
			a.Set("from-a", "a")
			a.Set("both", "a")
			b.Set("from-b", "b")
			b.Set("both", "b")
			if err := b.Delete("gone"); err != nil {
				t.Fatal(err)
			}
			saveAll(t, env, a, b)
			got := env.load(t, id)
			if keys := got.Keys(); !slices.Equal(keys, []string{"both", "from-a", "from-b", "keep"}) {
				t.Errorf("keys after two commits: %v", keys)
			}
			if v, _ := got.GetString("both"); v != "b" {
				t.Errorf("same key: %q, want the later commit's", v)
			}
		})
	}
}

func codecName(c Codec) string {
	if _, ok := c.(JSONCodec); ok {
		return "json"
	}
	return "msgpack"
}

func TestCommit_ClearReplacesWholeRecord(t *testing.T) {
	env := newEnv(t, nil)
	id, a, b := twoTabs(t, env, map[string]any{"k": 1})
	a.Set("from-a", 1)
	b.Clear()
	b.Set("only", "b")
	saveAll(t, env, a, b)
	if keys := env.load(t, id).Keys(); !slices.Equal(keys, []string{"only"}) {
		t.Errorf("keys after Clear: %v, want only b's", keys)
	}
}

func TestCommit_MergesExpiryAndOwner(t *testing.T) {
	env := newEnv(t, nil)
	id, a, b := twoTabs(t, env, map[string]any{"k": 1})
	a.SetMaxAge(time.Hour)
	b.SetUserID("sonam")
	b.Set("x", 1)
	saveAll(t, env, a, b)
	got := env.load(t, id)
	if got.ExpiryAge() != time.Hour || got.UserID() != "sonam" {
		t.Errorf("after merging: ExpiryAge %v, UserID %q; want 1h and sonam", got.ExpiryAge(), got.UserID())
	}
	rec, _ := env.store.Load(context.Background(), StoreKey(id))
	if rec.UserID != "sonam" || !rec.Expires.Equal(env.clock.Now().Add(time.Hour)) {
		t.Errorf("record owner %q, expires %v", rec.UserID, rec.Expires)
	}
}

func TestCommit_UntouchedValuesAreCopiedNotReencoded(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"big": []any{1, "two", 3.5, map[string]any{"n": nil}}, "n": 1})
	before, _ := env.store.Load(context.Background(), StoreKey(id))
	s := env.load(t, id)
	s.Set("n", 2)
	saveAll(t, env, s)
	after, _ := env.store.Load(context.Background(), StoreKey(id))
	_, p1, _ := parseEnvelope(before.Data)
	_, p2, _ := parseEnvelope(after.Data)
	if len(p1) != len(p2) {
		t.Errorf("payload changed size %d → %d for one small int", len(p1), len(p2))
	}
	if got := env.load(t, id); !slices.Equal(got.Keys(), []string{"big", "n"}) {
		t.Errorf("keys %v", got.Keys())
	}
}

func TestCommit_CorruptStoredRecordIsReplaced(t *testing.T) {
	env := newEnv(t, nil)
	id, a, _ := twoTabs(t, env, map[string]any{"k": 1})
	rec, _ := env.store.Load(context.Background(), StoreKey(id))
	rec.Data = []byte{recordVersion, 0, 0xc1}
	if err := env.store.Save(context.Background(), StoreKey(id), rec); err != nil {
		t.Fatal(err)
	}
	a.Set("x", 1)
	saveAll(t, env, a)
	if got := env.load(t, id); !slices.Equal(got.Keys(), []string{"k", "x"}) {
		t.Errorf("keys %v, want this session's view", got.Keys())
	}
}

func TestMsgpackCodec_MergeRejectsCorruptInput(t *testing.T) {
	for name, data := range hostileInputs {
		if name == "empty" {
			continue
		}
		if _, err := (MsgpackCodec{}).Merge(nil, data, map[string]any{"k": int64(1)}, map[string]struct{}{"k": {}}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Merge = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzMsgpackMerge(f *testing.F) {
	base, _ := MsgpackCodec{}.Encode(nil, mustNormalize(f, map[string]any{"a": 1, "b": []any{"x"}, "c": map[string]any{"d": 1.5}}))
	f.Add(base, "a")
	f.Add([]byte{0x81, 0xa1, 'k', 0xc0}, "k")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		values := map[string]any{key: int64(7)}
		out, err := MsgpackCodec{}.Merge(nil, data, values, map[string]struct{}{key: {}, "b": {}})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// A merged valid input decodes, holds the set key, lacks the
		// deleted one, and keeps the rest as Decode saw it.
		orig, derr := MsgpackCodec{}.Decode(data)
		got, err := MsgpackCodec{}.Decode(out)
		if err != nil {
			if derr != nil {
				return // Merge checks less than Decode (timestamps' contents)
			}
			t.Fatalf("merged output does not decode: %v", err)
		}
		if got[key] != int64(7) {
			t.Fatalf("merged %q = %#v", key, got[key])
		}
		if _, ok := got["b"]; ok && key != "b" {
			t.Fatal("deleted key b survived")
		}
		for k := range orig {
			if _, ok := got[k]; !ok && k != "b" {
				t.Fatalf("key %q lost", k)
			}
		}
	})
}
