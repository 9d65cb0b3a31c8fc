package deploytest

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseEnvTag(t *testing.T) {
	tests := []struct {
		tag      string
		key      string
		def      string
		hasDef   bool
		required bool
		prefix   string
	}{
		{tag: "API_ADDR, default=127.0.0.1:8080", key: "API_ADDR", def: "127.0.0.1:8080", hasDef: true},
		{tag: "KAFKA_BROKERS, default=a:1,b:2", key: "KAFKA_BROKERS", def: "a:1,b:2", hasDef: true},
		{tag: "STRIPE_SECRET_KEY", key: "STRIPE_SECRET_KEY"},
		{tag: "X, required", key: "X", required: true},
		{tag: "X,required,default=", key: "X", hasDef: true, required: true},
		{tag: ",prefix=DB_", prefix: "DB_"},
		{tag: ""},
	}
	for _, tt := range tests {
		key, o := parseEnvTag(tt.tag)
		if key != tt.key || o.def != tt.def || o.hasDef != tt.hasDef || o.required != tt.required || o.prefix != tt.prefix {
			t.Errorf("parseEnvTag(%q) = %q %+v, want %q def=%q hasDef=%v required=%v prefix=%q",
				tt.tag, key, o, tt.key, tt.def, tt.hasDef, tt.required, tt.prefix)
		}
	}
}

// TestServiceSettings pins what the source reader must find, so a reader
// that silently finds nothing cannot make the deployment checks pass.
func TestServiceSettings(t *testing.T) {
	root := repoRoot(t)
	services, err := Services(root)
	if err != nil {
		t.Fatal(err)
	}
	for name := range DesignPorts {
		if !slices.Contains(services, name) {
			t.Errorf("service %s of docs/design.md has no services/%s/internal/config", name, name)
		}
	}
	for _, svc := range services {
		s, err := ServiceSettings(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		// Every service embeds logging.Config: the reader must follow it.
		for _, want := range []string{"LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_GRACE"} {
			if _, ok := s[want]; !ok {
				t.Errorf("%s: %s not found among %v", svc, want, s.Names())
			}
		}
		addr := addrSetting(t, svc, s)
		_, port, err := net.SplitHostPort(addr.Default)
		if err != nil {
			t.Errorf("%s: %s default %q: %v", svc, addr.Name, addr.Default, err)
		} else if want, ok := DesignPorts[svc]; ok && port != strconv.Itoa(want) {
			t.Errorf("%s: %s default port %s, docs/design.md says %d", svc, addr.Name, port, want)
		}
	}
	api, _ := ServiceSettings(root, "api")
	if s := api["STRIPE_SECRET_KEY"]; !s.MustBeSet() {
		t.Errorf("api: STRIPE_SECRET_KEY = %+v, want a setting without default", s)
	}
	if s := api["API_ADDR"]; s.Default != "127.0.0.1:8080" {
		t.Errorf("api: API_ADDR default = %q, want 127.0.0.1:8080", s.Default)
	}
	ingest, _ := ServiceSettings(root, "webhook-ingest")
	if _, ok := ingest["KAFKA_BROKERS"]; !ok {
		t.Errorf("webhook-ingest: KAFKA_BROKERS (pkg/kafka.Config) not found among %v", ingest.Names())
	}
	writer, _ := ServiceSettings(root, "event-writer")
	if s, ok := writer["DATABASE_URL"]; !ok || !s.HasDefault {
		t.Errorf("event-writer: DATABASE_URL (pkg/pgstore.Config) = %+v, %v", s, ok)
	}
}

// addrSetting is the service's listen address: its one *_ADDR setting.
func addrSetting(t *testing.T, svc string, s Settings) Setting {
	t.Helper()
	var found []Setting
	for _, st := range s {
		if strings.HasSuffix(st.Name, "_ADDR") {
			found = append(found, st)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one *_ADDR setting, got %v", svc, found)
	}
	return found[0]
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
