package storeconfig

import (
	"strings"
	"testing"
)

func TestOpen_DefaultAndUnknown(t *testing.T) {
	o, err := Open("", "")
	if err != nil || o.Engine != DefaultEngine || o.Store == nil || o.Where == "" {
		t.Fatalf("Open default = %+v, %v", o, err)
	}
	if err := o.Close(); err != nil {
		t.Error(err)
	}
	_, err = Open("mongo", "")
	if err == nil || !strings.Contains(err.Error(), "memory") || !strings.Contains(err.Error(), "mongo") {
		t.Errorf("Open(unknown) = %v, want an error naming it and the known engines", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvEngine, " Memory ")
	o, err := FromEnv()
	if err != nil || o.Engine != "memory" {
		t.Fatalf("FromEnv = %+v, %v", o, err)
	}
}
