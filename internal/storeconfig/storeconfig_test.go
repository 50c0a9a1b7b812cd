package storeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen_EachEngineInSessionFilePath(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "") // db: the SQLite file in the directory
	t.Setenv(EnvDjangoSecretKey, "django-insecure-test")
	for _, name := range Engines() {
		if name == SchemeRedis || name == EngineCookie || name == EngineDjangoSignedCookies {
			continue // no file path: see their own tests
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := Open(name, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.Spec.Engine != name || o.Store == nil || o.Where == "" {
				t.Fatalf("Open(%s) = %+v", name, o)
			}
			if name != "memory" && !strings.Contains(o.Where, dir) {
				t.Errorf("Where = %q, want it under %s", o.Where, dir)
			}
		})
	}
}

func TestOpen_DefaultIsBoltInSessionFilePath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvEngine, "")
	t.Setenv(EnvFilePath, dir)
	o, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Spec.Engine != "bolt" {
		t.Errorf("default engine %q, want bolt", o.Spec.Engine)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions.db")); err != nil {
		t.Errorf("bolt file not in SESSION_FILE_PATH: %v", err)
	}
}

func TestOpen_UnknownEngine(t *testing.T) {
	_, err := Open("mongo", "")
	if err == nil || !strings.Contains(err.Error(), "bolt, cached, cookie, db, django.contrib.sessions.backends.db, "+
		"django.contrib.sessions.backends.file, django.contrib.sessions.backends.signed_cookies, file, memory, redis") || !strings.Contains(err.Error(), "mongo") {
		t.Errorf("Open(unknown) = %v, want an error naming it and the known engines", err)
	}
}

func TestFromEnv_NormalizesName(t *testing.T) {
	t.Setenv(EnvEngine, " Memory ")
	o, err := FromEnv()
	if err != nil || o.Spec.Engine != "memory" {
		t.Fatalf("FromEnv = %+v, %v", o, err)
	}
}
