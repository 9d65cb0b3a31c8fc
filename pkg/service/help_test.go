package service

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	Level string `env:"LEVEL, default=a,b" help:"the level"`
}

type helpSettings struct {
	Addr   string   `env:"HELP_ADDR, default=127.0.0.1:1" help:"where to listen"`
	Secret string   `env:"HELP_SECRET, required" help:"a secret"`
	Keys   []string `env:"HELP_KEYS" help:"keys"`
	Log    inner
	Sub    inner `env:", prefix=SUB_"`
	plain  int
}

func (s *helpSettings) Validate() error { return nil }

func TestSettingsOfWalksNestedStructsInFieldOrder(t *testing.T) {
	got := SettingsOf(reflect.TypeFor[helpSettings]())
	want := []Setting{
		{Name: "HELP_ADDR", Default: "127.0.0.1:1", HasDefault: true, Help: "where to listen"},
		{Name: "HELP_SECRET", Required: true, Help: "a secret"},
		{Name: "HELP_KEYS", Help: "keys"},
		{Name: "LEVEL", Default: "a,b", HasDefault: true, Help: "the level"},
		{Name: "SUB_LEVEL", Default: "a,b", HasDefault: true, Help: "the level"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SettingsOf:\n got %+v\nwant %+v", got, want)
	}
}

func TestExecAnswersHelpWithoutLoading(t *testing.T) {
	// HELP_SECRET is unset: loading would fail, so help must come first.
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out, errOut strings.Builder
		code := Exec[helpSettings](context.Background(), Help{Name: "x", About: "does x."}, []string{arg}, &out, &errOut,
			func(context.Context, helpSettings, io.Writer) error { t.Fatal("ran"); return nil })
		if code != 0 || errOut.Len() != 0 {
			t.Fatalf("%s: code %d, stderr %q", arg, code, errOut.String())
		}
		for _, s := range []string{"x: does x.", "HELP_ADDR  (default 127.0.0.1:1)\n      where to listen", "HELP_SECRET  (required)", "HELP_KEYS  (no default)", "SUB_LEVEL"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: help lacks %q:\n%s", arg, s, out.String())
			}
		}
	}
	t.Setenv("HELP_SECRET", "s")
	var out, errOut strings.Builder
	if code := Exec[helpSettings](context.Background(), Help{Name: "x"}, nil, &out, &errOut,
		func(context.Context, helpSettings, io.Writer) error { return io.EOF }); code != 1 || !strings.Contains(errOut.String(), "x: EOF") {
		t.Fatalf("failing run: code %d, stderr %q", code, errOut.String())
	}
}
