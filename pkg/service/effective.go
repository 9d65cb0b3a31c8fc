package service

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"

	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/secret"
)

// Effective is every setting of cfg (a config struct) with the value in
// effect, as slog attributes, secrets masked (secret.Masked): a service's
// first log line, so its log says what it ran with.
func Effective(cfg any) []any {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var out []any
	effective(v, "", &out)
	return out
}

func effective(v reflect.Value, prefix string, out *[]any) {
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		o := ParseEnvTag(f.Tag.Get("env"))
		name := o.Name
		fv := v.Field(i)
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		switch {
		case name == "-":
		case name != "":
			*out = append(*out, prefix+name, secret.Masked(prefix+name, format(fv)))
		case fv.Kind() == reflect.Struct:
			effective(fv, prefix+o.Prefix, out)
		}
	}
}

func format(v reflect.Value) string {
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v.Interface())
}

// Logger is a service's logger (logging.New, named name, writing to out)
// once it has logged its first line: "settings", what cfg holds in effect.
func Logger(cfg any, log logging.Config, name string, out io.Writer) (*slog.Logger, error) {
	logger, err := logging.New(log, name, out)
	if err != nil {
		return nil, err
	}
	logger.Info("settings", Effective(cfg)...)
	return logger, nil
}
