// Package cli is what every stripeline command does the same way when asked
// for help: -h, -help and --help print what the command is, its commands and
// flags to stdout, and the command exits 0 (asked-for help is output, not an
// error).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// IsHelp reports whether args ask for help: -h, -help or --help (with one
// dash or two), before any "--" that ends the flags.
func IsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// Usage makes fs print about, then its flags, when it meets -h or a bad flag:
// to stdout when args ask for help, to stderr otherwise. With
// flag.ExitOnError the flag package then exits 0 on help; with
// ContinueOnError Parse returns flag.ErrHelp, which Exit treats as success.
func Usage(fs *flag.FlagSet, args []string, about string) {
	out := io.Writer(os.Stderr)
	if IsHelp(args) {
		out = os.Stdout
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, about)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
}

// ExitCode is the status of a command that ended with err: 0 for nil and for
// flag.ErrHelp (the usage is already printed), 1 otherwise.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}
