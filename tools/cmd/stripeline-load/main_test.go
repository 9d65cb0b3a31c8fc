package main

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/pkg/cli"
	"github.com/stripeline/stripeline/tools/loadgen"
)

func TestHelpIsNotAnError(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out strings.Builder
		if err := realMain(context.Background(), []string{arg}, &out); err != nil {
			t.Fatalf("stripeline-load %s: %v", arg, err)
		}
		for _, cmd := range []string{"webhooks", "e2e", "connections", "spread", "charges"} {
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

// spread aims at the ids each connections process pinned: group i is
// Seeded(SEED).IDs of the i-th SEED:N.
func TestParseTargets(t *testing.T) {
	groups, err := parseTargets("7:3, 9:2")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || len(groups[0]) != 3 || len(groups[1]) != 2 || groups[0][0] != loadgen.Seeded(7).ID("ch_") {
		t.Fatalf("groups %v, want the 3 ids of seed 7 and the 2 of seed 9", groups)
	}
	for _, bad := range []string{"", "7", "7:0", "x:3", "7:3,"} {
		if _, err := parseTargets(bad); err == nil {
			t.Errorf("parseTargets(%q) accepted", bad)
		}
	}
}
