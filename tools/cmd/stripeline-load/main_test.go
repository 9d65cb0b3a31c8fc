package main

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/pkg/cli"
)

func TestHelpIsNotAnError(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out strings.Builder
		if err := realMain(context.Background(), []string{arg}, &out); err != nil {
			t.Fatalf("stripeline-load %s: %v", arg, err)
		}
		for _, cmd := range []string{"webhooks", "e2e", "connections", "charges"} {
			if !strings.Contains(out.String(), "stripeline-load "+cmd) {
				t.Errorf("stripeline-load %s does not list %s:\n%s", arg, cmd, out.String())
			}
		}
	}
	// A command's -h prints its flags and ends with flag.ErrHelp, which main
	// turns into exit status 0.
	err := realMain(context.Background(), []string{"webhooks", "-h"}, &strings.Builder{})
	if !errors.Is(err, flag.ErrHelp) || cli.ExitCode(err) != 0 {
		t.Fatalf("stripeline-load webhooks -h: %v", err)
	}
	if err := realMain(context.Background(), []string{"bogus"}, &strings.Builder{}); err == nil || cli.ExitCode(err) != 1 {
		t.Fatalf("stripeline-load bogus: %v, want an error", err)
	}
}
