package service

import (
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Setting is one environment variable a service reads, as its config
// struct's tags say: `env:"NAME, default=…"` names it and gives its default,
// `help:"…"` says what it means.
type Setting struct {
	Name       string
	Default    string
	HasDefault bool
	Required   bool
	Help       string
}

// SettingsOf lists the environment variables of config struct t in field
// order, walking the struct fields it holds (logging.Config, kafka.Config,
// pgstore.Config, …) the way go-envconfig does: a field with a name in its env
// tag is a variable; an untagged struct field, or one tagged only with
// prefix=, is followed.
func SettingsOf(t reflect.Type) []Setting {
	var out []Setting
	settingsOf(t, "", &out)
	return out
}

func settingsOf(t reflect.Type, prefix string, out *[]Setting) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		o := ParseEnvTag(f.Tag.Get("env"))
		name := o.Name
		switch {
		case name == "-":
		case name != "":
			*out = append(*out, Setting{Name: prefix + name, Default: o.Default, HasDefault: o.HasDefault, Required: o.Required, Help: f.Tag.Get("help")})
		default:
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				settingsOf(ft, prefix+o.Prefix, out)
			}
		}
	}
}

// EnvTag is a go-envconfig tag, split: `NAME, required, default=a,b`.
type EnvTag struct {
	Name       string
	Default    string
	HasDefault bool
	Required   bool
	Prefix     string // of the variables of a struct field
}

// ParseEnvTag splits a go-envconfig tag. A default runs to the end of the
// tag, commas included, as go-envconfig reads it.
func ParseEnvTag(tag string) EnvTag {
	key, rest, found := strings.Cut(tag, ",")
	o := EnvTag{Name: strings.TrimSpace(key)}
	for found {
		var seg string
		seg, rest, found = strings.Cut(rest, ",")
		seg = strings.TrimLeft(seg, " ")
		lower := strings.ToLower(seg)
		switch {
		case strings.HasPrefix(lower, "default="):
			o.HasDefault = true
			o.Default = seg[len("default="):]
			if found {
				o.Default += "," + rest
			}
			found = false
		case strings.TrimSpace(lower) == "required":
			o.Required = true
		case strings.HasPrefix(lower, "prefix="):
			o.Prefix = seg[len("prefix="):]
		}
	}
	return o
}

// Help is what a service's -h says besides its settings.
type Help struct {
	// Name is the command's name, which also heads its error messages.
	Name string
	// About says what the service is, in a sentence or two.
	About string
	// Commands is the usage of its commands, when it has more than one; empty
	// means the command takes no arguments.
	Commands string
}

// WriteHelp writes h and every setting of config struct C to w.
func WriteHelp[C any](w io.Writer, h Help) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\n", h.Name, strings.TrimSpace(h.About))
	if h.Commands != "" {
		b.WriteString(strings.TrimRight(h.Commands, "\n"))
		b.WriteString("\n\n")
	} else {
		fmt.Fprintf(&b, "usage: %s (settings come from the environment; -h, --help prints this)\n\n", h.Name)
	}
	b.WriteString("Settings (environment variables):\n")
	for _, s := range SettingsOf(reflect.TypeFor[C]()) {
		fmt.Fprintf(&b, "\n  %s", s.Name)
		switch {
		case s.Required:
			b.WriteString("  (required)")
		case !s.HasDefault:
			b.WriteString("  (no default)")
		case s.Default == "":
			b.WriteString("  (default: empty)")
		default:
			fmt.Fprintf(&b, "  (default %s)", s.Default)
		}
		b.WriteString("\n")
		if s.Help != "" {
			fmt.Fprintf(&b, "      %s\n", s.Help)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
