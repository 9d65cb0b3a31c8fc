package deploytest

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeSecrets stand for the secrets a user's .env provides: compose
// requires each (${VAR:?…}), so the file loads only with them. Each value is
// its own, so a test can tell it from a committed one.
var composeSecrets = map[string]string{
	"STRIPE_SECRET_KEY":         "test-secret-stripe-key",
	"API_KEYS":                  "test-secret-api-keys",
	"ADMIN_API_KEYS":            "test-secret-admin-api-keys",
	"STRIPE_EVENTS_KEY":         "test-secret-stripe-events-key",
	"SUBSCRIPTION_TOKEN_SECRET": "test-secret-token",
	"STRIPE_WEBHOOK_SECRETS":    "test-secret-webhook",
}

// loadCompose loads docker-compose.yml the way `docker compose` does, with the
// compose-spec schema validation on (an unknown key fails), in an environment
// holding only composeSecrets and env. resolved merges each service's env_file
// into its environment.
func loadCompose(t *testing.T, env map[string]string, resolved bool) *types.Project {
	t.Helper()
	all := maps.Clone(composeSecrets)
	maps.Copy(all, env)
	p, err := loadComposeWith(t, all, cli.WithoutEnvironmentResolution)
	if resolved {
		p, err = loadComposeWith(t, all)
	}
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// loadComposeWith loads docker-compose.yml in an environment holding only
// env, with more options.
func loadComposeWith(t *testing.T, env map[string]string, more ...cli.ProjectOptionsFn) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts := append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(root), cli.WithEnv(list)}, more...)
	po, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return po.LoadProject(context.Background())
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

func TestComposeImagesArePinned(t *testing.T) {
	p := loadCompose(t, nil, false)
	for name, s := range p.Services {
		if why := ImagePinned(s.Image); why != "" {
			t.Errorf("service %s: image %q: %s", name, s.Image, why)
		}
	}
	// stripe-mock: the version the tests install (tools/devstack).
	want := "stripe/stripe-mock:" + stripeMockVersion(t)
	if got := service(t, p, "stripe-mock").Image; got != want {
		t.Errorf("stripe-mock image %q, want %q (tools/devstack.StripeMockVersion)", got, want)
	}
	if img := service(t, p, "kafka").Image; !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %q, want the official apache/kafka", img)
	}
}

// stripeMockVersion reads tools/devstack's StripeMockVersion constant.
func stripeMockVersion(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "tools", "devstack", "stripemock.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`StripeMockVersion\s*=\s*"(v[0-9.]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("tools/devstack/stripemock.go: no StripeMockVersion constant")
	}
	return string(m[1])
}

func TestComposeKafkaIsKRaft(t *testing.T) {
	p := loadCompose(t, nil, false)
	env := service(t, p, "kafka").Environment
	roles := value(env, "KAFKA_PROCESS_ROLES")
	if !strings.Contains(roles, "controller") || !strings.Contains(roles, "broker") {
		t.Errorf("KAFKA_PROCESS_ROLES %q: want broker,controller (KRaft, no ZooKeeper)", roles)
	}
	for k := range env {
		if strings.Contains(k, "ZOOKEEPER") {
			t.Errorf("kafka: %s set; KRaft needs no ZooKeeper", k)
		}
	}
	// kafka-storage format rejects a cluster id that is not a base64url UUID.
	if id, err := base64.RawURLEncoding.DecodeString(value(env, "CLUSTER_ID")); err != nil || len(id) != 16 {
		t.Errorf("CLUSTER_ID %q is not a base64url-encoded 16-byte UUID", value(env, "CLUSTER_ID"))
	}
	if value(env, "KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false" {
		t.Error("kafka: topic auto-creation on; kafka-init makes the topics with their partition count")
	}
}

func TestComposeTopicJob(t *testing.T) {
	p := loadCompose(t, map[string]string{"KAFKA_PARTITIONS": "24", "KAFKA_TOPIC": "t.v9"}, false)
	job := service(t, p, "kafka-init")
	if job.Restart != "no" {
		t.Errorf("kafka-init restart %q, want \"no\" (one-shot)", job.Restart)
	}
	if got := value(job.Environment, "PARTITIONS"); got != "24" {
		t.Errorf("kafka-init PARTITIONS = %q with KAFKA_PARTITIONS=24: the partition count is not configurable", got)
	}
	if got := value(job.Environment, "TOPIC"); got != "t.v9" {
		t.Errorf("kafka-init TOPIC = %q with KAFKA_TOPIC=t.v9", got)
	}
	script := strings.Join(append(append([]string{}, job.Entrypoint...), job.Command...), " ")
	for _, want := range []string{"--create", "--if-not-exists", `"$TOPIC"`, `"$TOPIC.poison"`, `--partitions "$PARTITIONS"`, "retention.ms"} {
		if !strings.Contains(script, want) {
			t.Errorf("kafka-init script lacks %s:\n%s", want, script)
		}
	}
	if d := job.DependsOn["kafka"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("kafka-init depends_on kafka: %q, want service_healthy", d.Condition)
	}
	// The services get the same topic name the job creates.
	for _, svc := range []string{"webhook-ingest", "notifier", "event-writer"} {
		if got := value(service(t, p, svc).Environment, "KAFKA_TOPIC"); got != "t.v9" {
			t.Errorf("%s KAFKA_TOPIC = %q, want the kafka-init topic t.v9", svc, got)
		}
	}
	// Default partition count bounds the event-writer replicas that work.
	def := loadCompose(t, nil, false)
	parts, err := strconv.Atoi(value(service(t, def, "kafka-init").Environment, "PARTITIONS"))
	if err != nil {
		t.Fatal(err)
	}
	if r := scale(service(t, def, "event-writer")); r > parts {
		t.Errorf("event-writer replicas %d > %d partitions: the extra replicas would sit idle", r, parts)
	}
}

func TestComposeHealthChecksAndDependencies(t *testing.T) {
	p := loadCompose(t, nil, false)
	for name, s := range p.Services {
		if s.Restart == "no" {
			continue // a one-shot job: others wait for it to complete
		}
		if s.Restart != types.RestartPolicyUnlessStopped && s.Restart != types.RestartPolicyAlways {
			t.Errorf("service %s: restart %q, want unless-stopped or always", name, s.Restart)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s: no health check", name)
		}
		for dep, d := range s.DependsOn {
			want := types.ServiceConditionHealthy
			if service(t, p, dep).Restart == "no" {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if d.Condition != want {
				t.Errorf("service %s depends_on %s: condition %q, want %q", name, dep, d.Condition, want)
			}
		}
	}
	root := repoRoot(t)
	for svc := range DesignPorts {
		s := service(t, p, svc)
		// The health check asks the ops listener's /readyz (the public port has none).
		want := []string{"CMD", "/usr/local/bin/healthcheck", fmt.Sprintf("http://127.0.0.1:%d/readyz", OpsPorts[svc])}
		if got := []string(s.HealthCheck.Test); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s health check %q, want %q", svc, got, want)
		}
		settings, err := ServiceSettings(root, svc)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := settings["KAFKA_BROKERS"]; ok {
			for _, dep := range []string{"kafka", "kafka-init"} {
				if _, ok := s.DependsOn[dep]; !ok {
					t.Errorf("%s reads KAFKA_BROKERS but does not depend on %s", svc, dep)
				}
			}
		}
		if _, ok := settings["DATABASE_URL"]; ok {
			if _, ok := s.DependsOn["postgres"]; !ok {
				t.Errorf("%s reads DATABASE_URL but does not depend on postgres", svc)
			}
		}
		if s.Build == nil || s.Build.Target != svc || filepath.ToSlash(s.Build.Dockerfile) != "deployments/Dockerfile" {
			t.Errorf("%s build %+v, want deployments/Dockerfile target %s", svc, s.Build, svc)
		}
	}
	for _, svc := range []string{"notifier", "event-writer"} {
		if r := scale(service(t, p, svc)); r < 2 {
			t.Errorf("%s replicas %d, want at least 2 to show scale-out", svc, r)
		}
	}
	if got := service(t, p, "migrate").Command; strings.Join(got, " ") != "migrate" {
		t.Errorf("migrate command %q, want [migrate]", got)
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t, nil, false)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
	}
	for svc, want := range DesignPorts {
		s := service(t, p, svc)
		if len(s.Ports) != 1 || s.Ports[0].Target != uint32(want) {
			t.Errorf("%s ports %+v, want container port %d (docs/design.md)", svc, s.Ports, want)
			continue
		}
		// A single replica takes the docs/design.md port on the host too; replicas
		// share a range that starts there, or (event-writer) take any free port.
		published := s.Ports[0].Published
		if scale(s) == 1 && published != strconv.Itoa(want) {
			t.Errorf("%s published on %q, want %d", svc, published, want)
		}
		if scale(s) > 1 && published != "" && !strings.HasPrefix(published, strconv.Itoa(want)+"-") {
			t.Errorf("%s (%d replicas) published on %q: want a range from %d, or none", svc, scale(s), published, want)
		}
		addr := addrSetting(t, svc, mustSettings(t, svc))
		if got, want := value(s.Environment, addr.Name), fmt.Sprintf("0.0.0.0:%d", want); got != want {
			t.Errorf("%s %s = %q, want %q (the default listens on loopback only)", svc, addr.Name, got, want)
		}
		// The ops listener binds every interface of the container, so that
		// other containers (a Prometheus) reach it; it is not published.
		ops := opsAddrSetting(t, svc, mustSettings(t, svc))
		if got, want := value(s.Environment, ops.Name), fmt.Sprintf("0.0.0.0:%d", OpsPorts[svc]); got != want {
			t.Errorf("%s %s = %q, want %q (the default listens on loopback only)", svc, ops.Name, got, want)
		}
	}
}

// blanked reports a secret set to "" in a service's environment: withheld
// from a service that does not read it (.env reaches all through env_file).
func blanked(name string, v *string) bool {
	return IsSecret(name) && name != "DATABASE_URL" && v != nil && *v == ""
}

// TestComposeSettings checks every setting against what the service's source reads.
func TestComposeSettings(t *testing.T) {
	root := repoRoot(t)
	explicit := loadCompose(t, nil, false)
	resolved := loadCompose(t, nil, true)
	read := map[string]bool{} // by any service
	for svc := range DesignPorts {
		settings := mustSettings(t, svc)
		for _, n := range settings.Names() {
			read[n] = true
		}
		env := service(t, resolved, svc).Environment
		for _, s := range settings {
			if v, ok := env[s.Name]; s.MustBeSet() && (!ok || v == nil) {
				t.Errorf("%s reads %s, which has no default, and docker-compose.yml does not set it (add it to .env.example)", svc, s.Name)
			}
		}
		for name, v := range service(t, explicit, svc).Environment {
			if blanked(name, v) {
				continue // a secret withheld from a service that does not read it
			}
			if _, ok := settings[name]; !ok {
				t.Errorf("docker-compose.yml sets %s for %s, which does not read it (a typo?); it reads %v", name, svc, settings.Names())
			}
			// A secret comes from .env (TestComposeSecretsRequired): with
			// composeSecrets as .env, its value is theirs.
			if IsSecret(name) && name != "DATABASE_URL" && (v == nil || *v != composeSecrets[name]) {
				t.Errorf("docker-compose.yml sets the secret %s for %s to a value of its own; it must be ${%s:?…}, from .env", name, svc, name)
			}
		}
	}
	// migrate runs event-writer: same settings.
	writer := mustSettings(t, "event-writer")
	for name, v := range service(t, explicit, "migrate").Environment {
		if _, ok := writer[name]; !ok && !blanked(name, v) {
			t.Errorf("docker-compose.yml sets %s for migrate (event-writer), which does not read it", name)
		}
	}

	f, err := os.Open(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	envExample, err := dotenv.Parse(f)
	if err != nil {
		t.Fatalf(".env.example: %v", err)
	}
	for name := range envExample {
		if !read[name] {
			t.Errorf(".env.example sets %s, which no service reads (a typo?)", name)
		}
	}
	// Commented-out tunables document a name too: it must be a real one.
	raw, _ := os.ReadFile(filepath.Join(root, ".env.example"))
	for _, m := range regexp.MustCompile(`(?m)^#\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(raw), -1) {
		if !read[m[1]] {
			t.Errorf(".env.example documents %s, which no service reads", m[1])
		}
	}
}

func TestComposeNoSecretsCommitted(t *testing.T) {
	root := repoRoot(t)
	for _, file := range []string{"docker-compose.yml", ".env.example", "docs/deploy.md", "deployments/Dockerfile"} {
		raw, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		if s := FindRealSecret(string(raw)); s != "" {
			t.Errorf("%s holds a credential-looking value %q", file, s)
		}
	}
	f, _ := os.Open(filepath.Join(root, ".env.example"))
	defer f.Close()
	env, err := dotenv.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range env {
		if IsSecret(name) && v != "" {
			t.Errorf(".env.example sets the secret %s: leave it empty (the user sets it in .env; the services refuse placeholders)", name)
		}
	}
}

// requiredVar is compose's required-variable interpolation of the variable
// named name: ${NAME:?message}, which stops compose, message shown, when the
// variable is unset or empty.
func requiredVar(name string) *regexp.Regexp {
	return regexp.MustCompile(`^\$\{` + regexp.QuoteMeta(name) + `:\?[^}]+\}$`)
}

// optionalVar is ${NAME:-}: the variable from .env, empty when unset.
func optionalVar(name string) *regexp.Regexp {
	return regexp.MustCompile(`^\$\{` + regexp.QuoteMeta(name) + `:-\}$`)
}

// Every secret a service reads (but DATABASE_URL, which compose builds from
// POSTGRES_PASSWORD for its own database) comes from .env: one it cannot
// run without as ${NAME:?…}, so compose starts nothing until .env sets it;
// one that turns an optional feature on (it has a default, empty: off) as
// ${NAME:-}.
func TestComposeSecretsRequired(t *testing.T) {
	raw, err := loadComposeWith(t, nil, cli.WithInterpolation(false), cli.WithoutEnvironmentResolution)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load uninterpolated: %v", err)
	}
	required, secrets := map[string]bool{}, map[string]bool{}
	reads := map[string]map[string]bool{}
	for svc := range DesignPorts {
		env := service(t, raw, svc).Environment
		reads[svc] = map[string]bool{}
		for _, s := range mustSettings(t, svc) {
			if !IsSecret(s.Name) || s.Name == "DATABASE_URL" {
				continue
			}
			reads[svc][s.Name], secrets[s.Name] = true, true
			got := value(env, s.Name)
			if !s.MustBeSet() {
				if !optionalVar(s.Name).MatchString(got) {
					t.Errorf("%s reads the optional secret %s; docker-compose.yml gives it %q, want ${%s:-} (from .env, empty: off)", svc, s.Name, got, s.Name)
				}
				continue
			}
			required[s.Name] = true
			if !requiredVar(s.Name).MatchString(got) {
				t.Errorf("%s reads the secret %s; docker-compose.yml gives it %q, want ${%s:?set %s in .env (see .env.example)}", svc, s.Name, got, s.Name, s.Name)
			}
		}
	}
	// .env reaches every container through env_file: a service that does
	// not read a secret has it blanked, and no other service gets one.
	for name, s := range raw.Services {
		for k, v := range s.Environment {
			if IsSecret(k) && k != "DATABASE_URL" && k != "POSTGRES_PASSWORD" && !reads[name][k] && (v == nil || *v != "") {
				t.Errorf("service %s sets the secret %s, which it does not read; blank it (%s: \"\")", name, k, k)
			}
		}
	}
	for svc := range DesignPorts {
		env := service(t, raw, svc).Environment
		for secret := range secrets {
			if v, ok := env[secret]; !reads[svc][secret] && (!ok || v == nil || *v != "") {
				t.Errorf("%s does not read %s, which .env gives every container: blank it in its environment (%s: \"\")", svc, secret, secret)
			}
		}
	}
	if len(required) == 0 {
		t.Fatal("no service reads a secret: the settings reader found nothing")
	}
	for name := range composeSecrets {
		if !secrets[name] {
			t.Errorf("composeSecrets has %s, which no service reads as a secret", name)
		}
	}
	// Each missing secret stops the load, naming it; so does an empty one.
	for name := range required {
		for _, missing := range []string{"unset", "empty"} {
			env := maps.Clone(composeSecrets)
			delete(env, name)
			if missing == "empty" {
				env[name] = ""
			}
			_, err := loadComposeWith(t, env, cli.WithoutEnvironmentResolution)
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), ".env") {
				t.Errorf("docker-compose.yml with %s %s: load error %v, want one naming it and .env", name, missing, err)
			}
		}
	}
}

func mustSettings(t *testing.T, svc string) Settings {
	t.Helper()
	s, err := ServiceSettings(repoRoot(t), svc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func value(env types.MappingWithEquals, key string) string {
	if v := env[key]; v != nil {
		return *v
	}
	return ""
}

func scale(s types.ServiceConfig) int { return s.GetScale() }
