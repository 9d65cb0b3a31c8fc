// Package servicetest checks, for a service's main package, what every
// service promises through pkg/service.
package servicetest

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/pkg/service"
)

// CheckHelp runs the service as Main would with -h, -help and --help (and
// with -h after a command, as in "event-writer replay -h") and fails t
// unless each exits 0 without running the service and prints, on stdout,
// every setting of C (service.SettingsOf) with its default and its meaning.
// A setting without a help tag fails too: -h must say what it is for.
func CheckHelp[C any, P service.Settings[C]](t *testing.T, h service.Help) {
	t.Helper()
	settings := service.SettingsOf(reflect.TypeFor[C]())
	if len(settings) == 0 {
		t.Fatalf("%s: no env tags found in its config", h.Name)
	}
	for _, s := range settings {
		if strings.TrimSpace(s.Help) == "" {
			t.Errorf("%s: setting %s has no help tag", h.Name, s.Name)
		}
	}
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"migrate", "-h"}} {
		var stdout, stderr strings.Builder
		run := func(context.Context, C, io.Writer) error {
			t.Errorf("%s %v: ran the service instead of printing help", h.Name, args)
			return nil
		}
		code := service.Exec[C, P](context.Background(), h, args, &stdout, &stderr, run)
		if code != 0 {
			t.Errorf("%s %v: exit status %d, want 0 (stderr %q)", h.Name, args, code, stderr.String())
		}
		out := stdout.String()
		if !strings.Contains(out, h.Name) || !strings.Contains(out, strings.TrimSpace(h.About)) {
			t.Errorf("%s %v: help does not say what the service is:\n%s", h.Name, args, out)
		}
		if h.Commands != "" && !strings.Contains(out, strings.TrimSpace(h.Commands)) {
			t.Errorf("%s %v: help does not list the commands:\n%s", h.Name, args, out)
		}
		for _, s := range settings {
			line := "\n  " + s.Name + "  "
			i := strings.Index(out, line)
			if i < 0 {
				t.Errorf("%s %v: help does not list %s", h.Name, args, s.Name)
				continue
			}
			entry, _, _ := strings.Cut(out[i+len(line):], "\n\n")
			if s.HasDefault && s.Default != "" && !strings.Contains(entry, s.Default) {
				t.Errorf("%s %v: %s's default %q is not in %q", h.Name, args, s.Name, s.Default, entry)
			}
			if !strings.Contains(entry, s.Help) {
				t.Errorf("%s %v: %s's meaning %q is not in %q", h.Name, args, s.Name, s.Help, entry)
			}
		}
		if stderr.Len() != 0 {
			t.Errorf("%s %v: wrote to stderr: %q", h.Name, args, stderr.String())
		}
	}
}
