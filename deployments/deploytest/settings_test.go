package deploytest

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	envtag "github.com/stripeline/stripeline/pkg/service"
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
		o := envtag.ParseEnvTag(tt.tag)
		if key := o.Name; key != tt.key || o.Default != tt.def || o.HasDefault != tt.hasDef || o.Required != tt.required || o.Prefix != tt.prefix {
			t.Errorf("ParseEnvTag(%q) = %q %+v, want %q def=%q hasDef=%v required=%v prefix=%q",
				tt.tag, o.Name, o, tt.key, tt.def, tt.hasDef, tt.required, tt.prefix)
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
	// The ops listeners default to loopback, on their docs/design.md port.
	for svc, want := range OpsPorts {
		s, err := ServiceSettings(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		ops := opsAddrSetting(t, svc, s)
		if host, port, err := net.SplitHostPort(ops.Default); err != nil || host != "127.0.0.1" || port != strconv.Itoa(want) {
			t.Errorf("%s: %s default %q, want 127.0.0.1:%d (loopback: the ops endpoints are not public)", svc, ops.Name, ops.Default, want)
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
		if strings.HasSuffix(st.Name, "_ADDR") && !strings.HasSuffix(st.Name, "_OPS_ADDR") {
			found = append(found, st)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one *_ADDR setting, got %v", svc, found)
	}
	return found[0]
}

// opsAddrSetting is the setting of a service's ops listener: its one
// *_OPS_ADDR, or, for a service without one (the event-writer, which has no
// product routes), its listen address, which then is its ops listener.
func opsAddrSetting(t *testing.T, svc string, s Settings) Setting {
	t.Helper()
	var found []Setting
	for _, st := range s {
		if strings.HasSuffix(st.Name, "_OPS_ADDR") {
			found = append(found, st)
		}
	}
	switch {
	case len(found) == 1:
		return found[0]
	case len(found) == 0 && OpsPorts[svc] == DesignPorts[svc]:
		return addrSetting(t, svc, s)
	}
	t.Fatalf("%s: want one *_OPS_ADDR setting (or none, with the ops port its only port), got %v", svc, found)
	return Setting{}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readmeRow is a row of the settings table (docs/settings.md): | `NAME` | default | used by | meaning |.
var readmeRow = regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\| ([^|]*) \\|")

// TestReadmeSettings checks docs/settings.md's table against the source:
// every setting a service reads has a row, every row is a setting some
// service reads (or Go's GOGC), and a default written as one `value` is the
// source's default.
func TestReadmeSettings(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docs", "settings.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // name → default cell
	for _, m := range readmeRow.FindAllStringSubmatch(string(raw), -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	services, err := Services(root)
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]Setting{}
	for _, svc := range services {
		s, err := ServiceSettings(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		for name, st := range s {
			read[name] = st
			if _, ok := rows[name]; !ok {
				t.Errorf("%s reads %s, which docs/settings.md's table lacks", svc, name)
			}
		}
	}
	for name, def := range rows {
		st, ok := read[name]
		if !ok {
			if name != "GOGC" {
				t.Errorf("docs/settings.md's table has %s, which no service reads", name)
			}
			continue
		}
		// One backquoted value: it must be the default.
		if v, ok := strings.CutPrefix(def, "`"); ok && strings.Count(def, "`") == 2 && strings.HasSuffix(v, "`") {
			if v = strings.TrimSuffix(v, "`"); !st.HasDefault || v != st.Default {
				t.Errorf("docs/settings.md: %s default %q, the source's is %q", name, v, st.Default)
			}
		}
		if strings.Contains(def, "required") && st.HasDefault {
			t.Errorf("docs/settings.md: %s is required, the table says, but the source gives it the default %q", name, st.Default)
		}
	}
}
