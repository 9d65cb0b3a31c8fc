package deploytest

import (
	"regexp"
	"strings"

	"github.com/stripeline/stripeline/tools/workspace"
)

// DesignPorts are the services' ports from docs/design.md ("Ports and settings").
var DesignPorts = map[string]int{
	"api":            8080,
	"webhook-ingest": 8081,
	"notifier":       8082,
	"event-writer":   8083,
}

// OpsPorts are the services' ops ports from docs/design.md ("Ports and
// settings"): /healthz, /readyz and /metrics, where probes and Prometheus
// go. Each is the service port + 1000, but the event-writer's: it has no
// product routes, and its only port is its ops port.
var OpsPorts = map[string]int{
	"api":            9080,
	"webhook-ingest": 9081,
	"notifier":       9082,
	"event-writer":   8083,
}

// RepoRoot is the folder holding go.work, found from the working directory up
// (workspace.Root).
func RepoRoot() (string, error) { return workspace.Root() }

// IsSecret reports whether a setting holds a credential: it must come from a
// Secret (Kubernetes) or the env file (compose), never from a committed value.
func IsSecret(name string) bool {
	if strings.Contains(name, "PUBLISHABLE") {
		return false // served to browsers by design
	}
	return strings.Contains(name, "SECRET") || strings.Contains(name, "PASSWORD") ||
		strings.HasSuffix(name, "_KEY") || strings.HasSuffix(name, "_KEYS") ||
		name == "DATABASE_URL" // carries the database password
}

// realLookingSecret matches credentials as Stripe issues them: live keys of
// any length, test keys and signing secrets long enough to be real.
var realLookingSecret = regexp.MustCompile(`\b(?:(?:sk|rk)_live_[0-9A-Za-z]{8,}|(?:sk|rk)_test_[0-9A-Za-z]{16,}|whsec_[0-9A-Za-z]{16,})`)

// FindRealSecret returns the first credential-looking string in text, or "".
func FindRealSecret(text string) string { return realLookingSecret.FindString(text) }

// ImagePinned reports why an image reference is not pinned to a version, or
// "" when it is: a tag that is not "latest", or a digest.
func ImagePinned(ref string) string {
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	name := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	}
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return "no tag (means latest)"
	case tag == "latest":
		return "tag latest"
	case strings.Contains(tag, "${"):
		return "tag left to interpolation"
	}
	return ""
}
