package session

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// Random operations on sessions, through the middleware (pooled buffers,
// release, reload) and directly, against a model map; another writer
// changes keys of its own between requests.
func TestLazy_RandomOperationsAgainstAModel(t *testing.T) {
	ctx := context.Background()
	for seed := int64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		env := newEnv(t, nil)
		init := map[string]any{}
		for i := 0; i < rng.Intn(20); i++ {
			init[fmt.Sprintf("k%d", rng.Intn(30))] = int64(i)
		}
		init["anchor"] = "x"
		id := env.saved(t, init)
		model := map[string]any{}
		for k, v := range init {
			model[k] = v
		}
		var log []string
		for step := 0; step < 8; step++ {
			var late *Session
			ops := func(s *Session) {
				for n := rng.Intn(6); n >= 0; n-- {
					k := fmt.Sprintf("k%d", rng.Intn(30))
					switch rng.Intn(7) {
					case 0, 1:
						v := int64(rng.Intn(1000))
						s.Set(k, v)
						model[k] = v
						log = append(log, "set "+k)
					case 2:
						_ = s.Delete(k)
						delete(model, k)
						log = append(log, "del "+k)
					case 3:
						s.Pop(k)
						delete(model, k)
						log = append(log, "pop "+k)
					case 4:
						v := s.SetDefault(k, int64(-1))
						model[k] = v
						log = append(log, "setdefault "+k)
					case 5:
						v, _ := s.Get(k)
						if mv, ok := model[k]; !reflect.DeepEqual(v, mv) && ok {
							t.Fatalf("seed %d: Get(%s) = %v, model %v; %v", seed, k, v, mv, log)
						}
					case 6:
						s.Update(map[string]any{k: int64(7)})
						model[k] = int64(7)
						log = append(log, "update "+k)
					}
				}
			}
			mode := rng.Intn(3)
			h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := FromContext(r.Context())
				ops(s)
				if mode == 1 {
					w.WriteHeader(200)
					ops(s) // after the response started: commitLate
				}
				late = s
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
			h.ServeHTTP(httptest.NewRecorder(), req)
			if mode == 2 {
				ops(late) // after release: reload, then an explicit Save
				if rng.Intn(2) == 0 {
					if err := late.CycleKey(ctx); err != nil {
						t.Fatal(err)
					}
					id = late.ID()
					log = append(log, "cycle")
				}
				if err := env.engine.Save(ctx, late); err != nil {
					t.Fatal(err)
				}
			}
			// another writer, on keys of its own
			o := env.load(t, id)
			ok := fmt.Sprintf("other%d", rng.Intn(3))
			o.Set(ok, int64(step))
			model[ok] = int64(step)
			if err := env.engine.Save(ctx, o); err != nil {
				t.Fatal(err)
			}
			got, _ := env.load(t, id).valuesMap()
			if !reflect.DeepEqual(got, model) {
				t.Fatalf("seed %d step %d mode %d:\nstored %v\nmodel  %v\nops %v", seed, step, mode, got, model, log)
			}
		}
	}
}

func (s *Session) valuesMap() (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.d.toMap()
}
