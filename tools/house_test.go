package tools

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/tools/workspace"
)

// The services are the product; this module holds what runs, measures or
// breaks them. TestProductLinksNoTools holds the line between the two: no
// service binary links a package of this module or the embedded broker, and
// no product package imports this module, tests and the packages that exist
// for tests (named …test, like net/http/httptest) aside.
func TestProductLinksNoTools(t *testing.T) {
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	list := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	binaries := []string{"api", "webhook-ingest", "event-writer", "notifier"}
	for _, name := range binaries {
		pkg := "github.com/stripeline/stripeline/services/" + name + "/cmd/" + name
		deps := list("-deps", pkg)
		if len(deps) < 20 {
			t.Fatalf("%s: %d dependencies listed; go list is not seeing the workspace", name, len(deps))
		}
		for _, dep := range deps {
			if strings.HasPrefix(dep, "github.com/stripeline/stripeline/tools") || strings.Contains(dep, "franz-go/pkg/kfake") {
				t.Errorf("the %s binary links %s", name, dep)
			}
		}
	}
	product := []string{"github.com/stripeline/stripeline/pkg/...", "github.com/stripeline/stripeline/services/..."}
	for _, line := range list(append([]string{"-f", `{{.ImportPath}}:{{join .Imports ","}}`}, product...)...) {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.HasSuffix(pkg, "test") {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "github.com/stripeline/stripeline/tools") {
				t.Errorf("product package %s imports %s", pkg, imp)
			}
		}
	}
}

// TestEveryToolAnswersHelp builds every command of the tools (and the
// deployments' healthcheck probe) and runs each with -h and --help: exit 0,
// a usage on stdout or stderr that names the command. The services' own
// -h is tested beside each (servicetest.CheckHelp).
func TestEveryToolAnswersHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every command")
	}
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./tools/cmd/...", "./deployments/cmd/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	names, err := filepath.Glob(filepath.Join(bin, "*"))
	if err != nil || len(names) < 6 {
		t.Fatalf("built %v (%v); want the five tools and healthcheck", names, err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		for _, arg := range []string{"-h", "--help"} {
			out, err := exec.Command(path, arg).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: %v\n%s", name, arg, err, out)
				continue
			}
			if !strings.Contains(string(out), name) || !strings.Contains(strings.ToLower(string(out)), "usage") {
				t.Errorf("%s %s says no usage of %s:\n%s", name, arg, name, out)
			}
		}
	}
}
