package deploytest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	envtag "github.com/stripeline/stripeline/pkg/service"
)

// modulePrefix is the import path every workspace module starts with; the
// rest of an import path is its directory in the repository.
const modulePrefix = "github.com/stripeline/stripeline/"

// Setting is one environment variable a service reads.
type Setting struct {
	Name       string
	Default    string
	HasDefault bool
	// Required is go-envconfig's `required` option.
	Required bool
}

// MustBeSet reports whether a deployment has to give the setting a value:
// it has no default, so leaving it out is a decision nobody took.
func (s Setting) MustBeSet() bool { return s.Required || !s.HasDefault }

// Settings is what one service reads, by variable name.
type Settings map[string]Setting

// Names lists the variables, sorted.
func (s Settings) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ServiceSettings reads the settings of services/<service> from the env tags
// of its internal/config package's Config struct, following struct fields
// into the repository packages that define them (pkg/kafka, pkg/logging, …).
func ServiceSettings(root, service string) (Settings, error) {
	r := &reader{root: root, pkgs: map[string]*pkgTypes{}, out: Settings{}}
	dir := filepath.Join("services", service, "internal", "config")
	if err := r.walkStruct(dir, "Config", "", 0); err != nil {
		return nil, fmt.Errorf("%s: %w", service, err)
	}
	if len(r.out) == 0 {
		return nil, fmt.Errorf("%s: no env tags found in %s", service, dir)
	}
	return r.out, nil
}

// Services lists the services: the directories under services/ that have an
// internal/config package.
func Services(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "services"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "services", e.Name(), "internal", "config")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

type pkgTypes struct {
	structs map[string]*ast.StructType
	// imports maps a file's import names to import paths, per struct.
	imports map[string]map[string]string
}

type reader struct {
	root string
	pkgs map[string]*pkgTypes
	out  Settings
}

func (r *reader) load(dir string) (*pkgTypes, error) {
	if p, ok := r.pkgs[dir]; ok {
		return p, nil
	}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(r.root, dir, "*.go"))
	if err != nil {
		return nil, err
	}
	p := &pkgTypes{structs: map[string]*ast.StructType{}, imports: map[string]map[string]string{}}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		imports := map[string]string{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := filepath.Base(path)
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					p.structs[ts.Name.Name] = st
					p.imports[ts.Name.Name] = imports
				}
			}
			return true
		})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	r.pkgs[dir] = p
	return p, nil
}

// walkStruct collects the env tags of struct typeName in package dir, the way
// go-envconfig reads them: a tagged field is a variable; an untagged struct
// field (or one tagged only with prefix=) is followed.
func (r *reader) walkStruct(dir, typeName, prefix string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("struct nesting too deep at %s.%s", dir, typeName)
	}
	p, err := r.load(dir)
	if err != nil {
		return err
	}
	st, ok := p.structs[typeName]
	if !ok {
		return fmt.Errorf("no struct %s in %s", typeName, dir)
	}
	for _, field := range st.Fields.List {
		tag := ""
		if field.Tag != nil {
			raw, _ := strconv.Unquote(field.Tag.Value)
			tag = reflect.StructTag(raw).Get("env")
		}
		opts := envtag.ParseEnvTag(tag)
		key := opts.Name
		if key == "-" {
			continue
		}
		if key != "" {
			r.out[prefix+key] = Setting{Name: prefix + key, Default: opts.Default, HasDefault: opts.HasDefault, Required: opts.Required}
			continue
		}
		// No key: go-envconfig follows a struct field; anything else is not a setting.
		typ := field.Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		switch t := typ.(type) {
		case *ast.Ident:
			if _, ok := p.structs[t.Name]; ok {
				if err := r.walkStruct(dir, t.Name, prefix+opts.Prefix, depth+1); err != nil {
					return err
				}
			}
		case *ast.SelectorExpr:
			pkgName, ok := t.X.(*ast.Ident)
			if !ok {
				continue
			}
			path := p.imports[typeName][pkgName.Name]
			if !strings.HasPrefix(path, modulePrefix) {
				continue // time.Duration and friends: not ours, not a settings struct
			}
			if err := r.walkStruct(strings.TrimPrefix(path, modulePrefix), t.Sel.Name, prefix+opts.Prefix, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
