package service

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

type settings struct {
	Addr  string        `env:"SERVICE_TEST_ADDR, default=127.0.0.1:1"`
	Grace time.Duration `env:"SERVICE_TEST_GRACE, default=2s"`
	Name  string        `env:"SERVICE_TEST_NAME"`
}

func (s *settings) Validate() error {
	if s.Name == "" {
		return errors.New("SERVICE_TEST_NAME is required")
	}
	return nil
}

func TestLoadReadsDefaultsAndEnvironment(t *testing.T) {
	t.Setenv("SERVICE_TEST_NAME", "x")
	t.Setenv("SERVICE_TEST_GRACE", "5s")
	s, err := Load[settings](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr != "127.0.0.1:1" || s.Grace != 5*time.Second || s.Name != "x" {
		t.Fatalf("Load = %+v", s)
	}
}

func TestLoadValidates(t *testing.T) {
	t.Setenv("SERVICE_TEST_NAME", "")
	if _, err := Load[settings](context.Background()); err == nil || !strings.Contains(err.Error(), "SERVICE_TEST_NAME") {
		t.Fatalf("Load = %v, want the validation error", err)
	}
	t.Setenv("SERVICE_TEST_NAME", "x")
	t.Setenv("SERVICE_TEST_GRACE", "soon")
	if _, err := Load[settings](context.Background()); err == nil || !strings.Contains(err.Error(), "SERVICE_TEST_GRACE") {
		t.Fatalf("Load = %v, want a parse error naming the variable", err)
	}
}

func TestDefaultGCPercentYieldsToTheEnvironment(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	DefaultGCPercent(321)
	if got := debug.SetGCPercent(100); got != 321 {
		t.Errorf("without GOGC: GC percent %d, want 321", got)
	}
	t.Setenv("GOGC", "100")
	DefaultGCPercent(321)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100: GC percent %d, want the environment's 100", got)
	}
}
