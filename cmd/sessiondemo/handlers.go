package main

import (
	"embed"
	"expvar"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"runtime"

	"github.com/sessionkv/session"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = map[string]*template.Template{}

func init() {
	expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
	for _, name := range []string{"index", "set", "get", "del", "flush"} {
		pages[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
}

// item is one row of the /get/ page's items table.
type item struct {
	Key   string
	Value any
}

// newHandler returns the demo's routes: Django's setsession, getsession and
// delsession views, plus flush and an index page.
func newHandler(where string, log *slog.Logger) http.Handler {
	render := func(w http.ResponseWriter, r *http.Request, page string, data map[string]any) {
		data["Where"] = where
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := pages[page].ExecuteTemplate(w, page+".html", data); err != nil {
			log.ErrorContext(r.Context(), "render", "page", page, "err", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, r, "index", map[string]any{"Title": "Home"})
	})
	mux.HandleFunc("GET /set/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("name", "Sonam")
		s.Set("lname", "rathore")
		render(w, r, "set", map[string]any{"Title": "Set Session"})
	})
	mux.HandleFunc("GET /get/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		name, ok := s.GetString("name")
		if !ok {
			name = "Guest"
		}
		lname, ok := s.GetString("lname")
		if !ok {
			lname = "Guest"
		}
		age := s.SetDefault("age", "26")
		var items []item
		for k, v := range s.Items() {
			items = append(items, item{k, v})
		}
		render(w, r, "get", map[string]any{"Title": "Get Session", "Name": name, "LName": lname,
			"Keys": s.Keys(), "Items": items, "Age": age})
	})
	mux.HandleFunc("GET /del/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		deleted := false
		if s.Has("name") {
			_ = s.Delete("name")
			_ = s.Delete("lname")
			deleted = true
		}
		render(w, r, "del", map[string]any{"Title": "Delete Session", "Deleted": deleted})
	})
	// /count/ increments a counter in the session and prints it;
	// /count/?read=1 only prints it. Load tests use it to check that no
	// update is lost.
	mux.HandleFunc("GET /count/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.GetInt("count")
		if r.FormValue("read") == "" {
			n++
			s.Set("count", n)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, n)
	})
	// /debug/vars serves expvar's memory statistics and the goroutine
	// count, for leak checks.
	mux.Handle("GET /debug/vars", expvar.Handler())
	mux.HandleFunc("GET /flush/", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Flush(r.Context()); err != nil {
			log.ErrorContext(r.Context(), "flush", "err", err)
			http.Error(w, "could not flush the session", http.StatusInternalServerError)
			return
		}
		render(w, r, "flush", map[string]any{"Title": "Flush Session"})
	})
	return mux
}
