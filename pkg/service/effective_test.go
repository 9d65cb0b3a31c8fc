package service

import (
	"fmt"
	"testing"
	"time"
)

type dbSettings struct {
	URL string `env:"DATABASE_URL"`
}

type effectiveSettings struct {
	Addr    string        `env:"X_ADDR, default=127.0.0.1:1"`
	Keys    []string      `env:"API_KEYS"`
	Secret  string        `env:"SUBSCRIPTION_TOKEN_SECRET"`
	Timeout time.Duration `env:"X_TIMEOUT"`
	DB      dbSettings
	skipped string
}

func TestEffectiveMasksSecrets(t *testing.T) {
	got := fmt.Sprint(Effective(effectiveSettings{
		Addr: "0.0.0.0:8080", Keys: []string{"k1-0123456789abcdef", "k2-0123456789abcdef"}, Secret: "",
		Timeout: 3 * time.Second, DB: dbSettings{URL: "postgres://u:hunter2@db:5432/x"},
	}))
	want := "[X_ADDR 0.0.0.0:8080 API_KEYS (set) SUBSCRIPTION_TOKEN_SECRET  X_TIMEOUT 3s DATABASE_URL postgres://u:xxxxx@db:5432/x]"
	if got != want {
		t.Fatalf("Effective = %s\nwant        %s", got, want)
	}
}
