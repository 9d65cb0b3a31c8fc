package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StripeMockVersion speaks API 2023-10-16, the version stripe-go v76 pins.
const StripeMockVersion = "v0.180.0"

// StripeMockPath finds stripe-mock, installing it with `go install` when it
// is on neither PATH nor in GOBIN/GOPATH/bin.
func StripeMockPath(ctx context.Context, log io.Writer) (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	gobin := goEnv(ctx, "GOBIN")
	if gobin == "" {
		gobin = filepath.Join(goEnv(ctx, "GOPATH"), "bin")
	}
	p := filepath.Join(gobin, "stripe-mock")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	fmt.Fprintf(log, "installing stripe-mock %s with go install…\n", StripeMockVersion)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/stripe/stripe-mock@"+StripeMockVersion)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = os.TempDir() // outside any module, so go install ignores the workspace
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install stripe-mock: %w", err)
	}
	return p, nil
}

func goEnv(ctx context.Context, key string) string {
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// StartStripeMock runs stripe-mock on loopback: HTTP on httpAddr, HTTPS on a
// free port (stripe-mock always opens both).
func StartStripeMock(ctx context.Context, httpAddr string, log io.Writer) (*Process, error) {
	bin, err := StripeMockPath(ctx, log)
	if err != nil {
		return nil, err
	}
	httpsAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := Start(ProcessConfig{
		Name: "stripe-mock",
		Path: bin,
		Args: []string{"-http-addr", httpAddr, "-https-addr", httpsAddr},
		Log:  log,
	})
	if err != nil {
		return nil, err
	}
	if err := WaitTCP(ctx, httpAddr); err != nil {
		p.Kill()
		return nil, fmt.Errorf("stripe-mock did not come up: %w", err)
	}
	return p, nil
}
