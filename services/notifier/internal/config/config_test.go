package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/service"
)

// tokenSecret is what `openssl rand -hex 32` prints, less its second half.
const tokenSecret = "5e0c9b1f7a3d42e8b6c1f0a9d3e7b2c4"

func TestLoadDefaults(t *testing.T) {
	t.Setenv("SUBSCRIPTION_TOKEN_SECRET", tokenSecret)
	c, err := service.Load[Config](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPReadTimeout != 30*time.Second || c.HTTPWriteTimeout != time.Minute || c.HTTPIdleTimeout != 2*time.Minute || c.MaxConnections != 17000 {
		t.Errorf("server defaults: read %s, write %s, idle %s, max connections %d", c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout, c.MaxConnections)
	}
	if c.WriteTimeout != 10*time.Second {
		t.Errorf("NOTIFIER_WRITE_TIMEOUT (the websocket's) default %s, want 10s", c.WriteTimeout)
	}
	l := c.Limits()
	if l.ReadHeaderTimeout != 10*time.Second || l.ReadTimeout != 30*time.Second || l.WriteTimeout != time.Minute ||
		l.IdleTimeout != 2*time.Minute || l.MaxConns != 17000+RefusalMargin || l.MaxHeaderBytes != 16<<10 {
		t.Errorf("limits %+v", l)
	}
}

func TestLoadRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no token secret":        {map[string]string{"SUBSCRIPTION_TOKEN_SECRET": ""}, "SUBSCRIPTION_TOKEN_SECRET is required"},
		"old placeholder":        {map[string]string{"SUBSCRIPTION_TOKEN_SECRET": "placeholder-change-me-32-characters"}, "SUBSCRIPTION_TOKEN_SECRET is a placeholder"},
		"16 characters":          {map[string]string{"SUBSCRIPTION_TOKEN_SECRET": "0123456789abcdef"}, "SUBSCRIPTION_TOKEN_SECRET is too short"},
		"no read timeout":        {map[string]string{"NOTIFIER_HTTP_READ_TIMEOUT": "0s"}, "NOTIFIER_HTTP_READ_TIMEOUT must be positive"},
		"negative write":         {map[string]string{"NOTIFIER_HTTP_WRITE_TIMEOUT": "-1s"}, "NOTIFIER_HTTP_WRITE_TIMEOUT must be positive"},
		"no idle timeout":        {map[string]string{"NOTIFIER_HTTP_IDLE_TIMEOUT": "0s"}, "NOTIFIER_HTTP_IDLE_TIMEOUT must be positive"},
		"no connections":         {map[string]string{"NOTIFIER_HTTP_MAX_CONNECTIONS": "0"}, "NOTIFIER_HTTP_MAX_CONNECTIONS must be positive"},
		"websocket write of 0s":  {map[string]string{"NOTIFIER_WRITE_TIMEOUT": "0s"}, "NOTIFIER_WRITE_TIMEOUT"},
		"a rolled key too short": {map[string]string{"SUBSCRIPTION_TOKEN_SECRET": "new:" + tokenSecret + ",old:0123456789abcdef"}, "SUBSCRIPTION_TOKEN_SECRET (key old) is too short"},
		"a proxy by name":        {map[string]string{"NOTIFIER_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}, "NOTIFIER_TRUSTED_PROXIES"},
		"negative per address":   {map[string]string{"NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS": "-1"}, "NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS"},
		"tiny connection bytes":  {map[string]string{"NOTIFIER_MAX_CONNECTION_BYTES": "1000"}, "NOTIFIER_MAX_CONNECTION_BYTES"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("SUBSCRIPTION_TOKEN_SECRET", tokenSecret)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := service.Load[Config](context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load() = %v, want an error with %q", err, tc.want)
			}
			if v := tc.env["SUBSCRIPTION_TOKEN_SECRET"]; v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// Without tokens the secret is not read, so it is not checked.
func TestNoTokenNoSecret(t *testing.T) {
	t.Setenv("NOTIFIER_REQUIRE_TOKEN", "false")
	t.Setenv("SUBSCRIPTION_TOKEN_SECRET", "")
	if _, err := service.Load[Config](context.Background()); err != nil {
		t.Fatal(err)
	}
}
