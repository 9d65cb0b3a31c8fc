package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestIsHelp(t *testing.T) {
	for args, want := range map[string]bool{"-h": true, "-help": true, "--help": true, "--h": true, "run -h": true,
		"": false, "-hx": false, "-- -h": false, "help": false} {
		if got := IsHelp(splitArgs(args)); got != want {
			t.Errorf("IsHelp(%q) = %v, want %v", args, got, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	if ExitCode(nil) != 0 || ExitCode(fmt.Errorf("run: %w", flag.ErrHelp)) != 0 || ExitCode(errors.New("x")) != 1 {
		t.Fatal("ExitCode: want 0 for nil and ErrHelp, 1 otherwise")
	}
}

func splitArgs(s string) []string { return strings.Fields(s) }
