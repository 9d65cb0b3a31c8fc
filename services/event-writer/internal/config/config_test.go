package config

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/service"
)

func TestLoadDefaults(t *testing.T) {
	c, err := service.Load[Config](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits()
	if l.ReadHeaderTimeout != 10*time.Second || l.ReadTimeout != 30*time.Second || l.WriteTimeout != time.Minute ||
		l.IdleTimeout != 2*time.Minute || l.MaxConns != 4096 || l.MaxHeaderBytes != 16<<10 {
		t.Errorf("limits %+v, want DefaultLimits'", l)
	}
	if c.Retention != 0 {
		t.Errorf("EVENT_WRITER_RETENTION defaults to %s, want 0 (keep forever)", c.Retention)
	}
}

func TestRetention(t *testing.T) {
	t.Setenv("EVENT_WRITER_RETENTION", "2160h")
	c, err := service.Load[Config](context.Background())
	if err != nil || c.Retention != 90*24*time.Hour {
		t.Fatalf("Load() = %s, %v; want 2160h", c.Retention, err)
	}
	t.Setenv("EVENT_WRITER_RETENTION", "-1h")
	if _, err := service.Load[Config](context.Background()); err == nil || !strings.Contains(err.Error(), "EVENT_WRITER_RETENTION must be 0") {
		t.Fatalf("Load() with a negative retention = %v, want it refused by name", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, name := range []string{"EVENT_WRITER_READ_TIMEOUT", "EVENT_WRITER_WRITE_TIMEOUT", "EVENT_WRITER_IDLE_TIMEOUT", "EVENT_WRITER_MAX_CONNECTIONS"} {
		t.Run(name, func(t *testing.T) {
			v := "0s"
			if strings.HasSuffix(name, "CONNECTIONS") {
				v = "0"
			}
			t.Setenv(name, v)
			_, err := service.Load[Config](context.Background())
			if err == nil || !strings.Contains(err.Error(), name+" must be positive") {
				t.Fatalf("Load() with %s=%s = %v, want it refused by name", name, v, err)
			}
		})
	}
}

func TestReconcileSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // a piece of the error; empty: accepted
	}{
		{map[string]string{}, ""},
		{map[string]string{"EVENT_WRITER_RECONCILE_EVERY": "10m"}, "EVENT_WRITER_RECONCILE_EVERY needs STRIPE_EVENTS_KEY"},
		{map[string]string{"EVENT_WRITER_RECONCILE_EVERY": "10m", "STRIPE_EVENTS_KEY": "rk_test_eventsReadOnly0123456789"}, ""},
		{map[string]string{"EVENT_WRITER_RECONCILE_EVERY": "10m", "STRIPE_EVENTS_KEY": "rk_test_eventsReadOnly0123456789", "EVENT_WRITER_RECONCILE_WINDOW": "800h"}, "EVENT_WRITER_RECONCILE_WINDOW must be positive and at most 720h"},
		{map[string]string{"STRIPE_EVENTS_KEY": "pk_test_notASecretKey0123456789"}, "STRIPE_EVENTS_KEY must be a restricted"},
		{map[string]string{"STRIPE_EVENTS_KEY": "rk_test_eventsReadOnly0123456789", "STRIPE_API_BASE": "stripe-mock:12111"}, "STRIPE_API_BASE"},
	} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := service.Load[Config](context.Background())
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Load() = %v, want %q", err, tc.want)
			}
		})
	}
}
