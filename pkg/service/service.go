// Package service is what every stripeline service process does the same
// way: read its settings from the environment and validate them, stop on
// SIGINT or SIGTERM, and exit non-zero, naming itself, when it fails.
package service

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/stripeline/stripeline/pkg/cli"
)

// Settings is a service's configuration struct, whose env tags name its
// environment variables.
type Settings[C any] interface {
	*C
	Validate() error
}

// Load reads the environment into a C and validates it.
func Load[C any, P Settings[C]](ctx context.Context) (C, error) {
	var c C
	if err := envconfig.Process(ctx, &c); err != nil {
		return c, namedError(reflect.TypeFor[C](), err)
	}
	return c, P(&c).Validate()
}

// namedError puts the environment variable's name on envconfig's errors,
// which name the Go field ("Grace: time: invalid duration"): the operator
// knows the variable, not the field.
func namedError(t reflect.Type, err error) error {
	field, _, ok := strings.Cut(err.Error(), ":")
	if !ok {
		return err
	}
	if name := envName(t, field); name != "" {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

// envName finds the env tag's variable of the field called field in t or in
// the structs it embeds as fields.
func envName(t reflect.Type, field string) string {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == field {
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				return name
			}
		}
		if f.Type.Kind() == reflect.Struct {
			if name := envName(f.Type, field); name != "" {
				return name
			}
		}
	}
	return ""
}

// Run is a service's body: it returns when ctx ends (after a clean
// shutdown) or when it fails; logs go to logOut.
type Run[C any] func(ctx context.Context, cfg C, logOut io.Writer) error

// Main runs a service process and exits with its status. -h, -help or
// --help anywhere in its arguments prints h and every setting the service
// reads (WriteHelp) instead, and exits 0.
func Main[C any, P Settings[C]](h Help, run Run[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Exec[C, P](ctx, h, os.Args[1:], os.Stdout, os.Stderr, run)
	stop()
	os.Exit(code)
}

// Exec is Main without the process: it answers help in args on stdout, or
// loads the settings and runs the service, logging to stderr, and returns
// the exit status.
func Exec[C any, P Settings[C]](ctx context.Context, h Help, args []string, stdout, stderr io.Writer, run Run[C]) int {
	if cli.IsHelp(args) {
		if err := WriteHelp[C](stdout, h); err != nil {
			return 1
		}
		return 0
	}
	cfg, err := Load[C, P](ctx)
	if err == nil {
		err = run(ctx, cfg, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", h.Name, err)
		return 1
	}
	return 0
}

// DefaultGCPercent sets the GC's GOGC to percent unless the environment sets
// GOGC: a service whose memory is not shaped like Go's default assumes says
// so in its main, and an operator can still override it.
func DefaultGCPercent(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}
