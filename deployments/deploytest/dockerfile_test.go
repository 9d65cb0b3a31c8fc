package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stage is one FROM … AS … block of the Dockerfile.
type stage struct {
	from, name string
	lines      []string // instructions after FROM, continuations joined
}

func readDockerfile(t *testing.T) map[string]*stage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deployments", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	stages := map[string]*stage{}
	var cur *stage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			var args []string
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") {
					args = append(args, f)
				}
			}
			if len(args) != 3 || !strings.EqualFold(args[1], "AS") {
				t.Fatalf("Dockerfile: %q: want FROM <image> AS <stage>", line)
			}
			cur = &stage{from: args[0], name: args[2]}
			stages[cur.name] = cur
			continue
		}
		if cur == nil {
			t.Fatalf("Dockerfile: %q before any FROM", line)
		}
		cur.lines = append(cur.lines, line)
	}
	return stages
}

// chain is the stage and the stages it builds on, itself first.
func chain(stages map[string]*stage, name string) []*stage {
	var out []*stage
	for s := stages[name]; s != nil && len(out) < 10; s = stages[s.from] {
		out = append(out, s)
	}
	return out
}

func instr(stages []*stage, keyword string) []string {
	var out []string
	for _, s := range stages {
		for _, l := range s.lines {
			if f := strings.Fields(l); strings.EqualFold(f[0], keyword) {
				out = append(out, strings.TrimSpace(l[len(f[0]):]))
			}
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	for name, s := range stages {
		if _, isStage := stages[s.from]; isStage || s.from == "scratch" {
			continue
		}
		if why := ImagePinned(s.from); why != "" {
			t.Errorf("stage %s: FROM %s: %s", name, s.from, why)
		}
	}
	build, ok := stages["build"]
	if !ok {
		t.Fatal("no build stage")
	}
	// The builder's Go is the workspace's.
	work, err := os.ReadFile(filepath.Join(repoRoot(t), "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(work)
	if goLine == nil || !strings.HasPrefix(build.from, "golang:"+string(goLine[1])) {
		t.Errorf("build stage FROM %s, want golang:%s (go.work)", build.from, goLine[1])
	}
	run := strings.Join(instr([]*stage{build}, "RUN"), "\n")
	if !strings.Contains(run, "CGO_ENABLED=0") {
		t.Error("build stage: CGO_ENABLED=0 missing: the binaries must be static for scratch")
	}
	for svc, port := range DesignPorts {
		pkg := fmt.Sprintf("./services/%s/cmd/%s", svc, svc)
		if !strings.Contains(run, pkg+" ") && !strings.HasSuffix(run, pkg) {
			t.Errorf("build stage does not build %s", pkg)
		}
		if _, err := os.Stat(filepath.Join(repoRoot(t), pkg)); err != nil {
			t.Errorf("%s: %v", pkg, err)
		}
		c := chain(stages, svc)
		if len(c) == 0 {
			t.Errorf("no stage %s (compose and docs build --target %s)", svc, svc)
			continue
		}
		if root := c[len(c)-1]; root.from != "scratch" {
			t.Errorf("stage %s starts FROM %s, want scratch", svc, root.from)
		}
		users := instr(c, "USER")
		if len(users) == 0 || strings.HasPrefix(users[0], "0") || strings.HasPrefix(users[0], "root") {
			t.Errorf("stage %s: USER %v, want a non-root numeric user", svc, users)
		}
		if got, want := instr(c, "ENTRYPOINT"), fmt.Sprintf(`["/usr/local/bin/%s"]`, svc); len(got) == 0 || got[0] != want {
			t.Errorf("stage %s: ENTRYPOINT %v, want %s", svc, got, want)
		}
		if got := instr(c, "EXPOSE"); len(got) == 0 || got[0] != fmt.Sprint(port) {
			t.Errorf("stage %s: EXPOSE %v, want %d", svc, got, port)
		}
		hc := strings.Join(instr(c, "HEALTHCHECK"), " ")
		if !strings.Contains(hc, fmt.Sprintf("http://127.0.0.1:%d/readyz", OpsPorts[svc])) {
			t.Errorf("stage %s: HEALTHCHECK %q does not probe /readyz on the ops port %d", svc, hc, OpsPorts[svc])
		}
	}
}
