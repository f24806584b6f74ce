package manifests

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Repo is what the manifests are checked against: the module path, the
// function mains under functions/ and the environment variables the shipped
// code reads.
type Repo struct {
	Root   string
	Module string
	// Mains holds the import path of every package main under functions/.
	Mains map[string]bool
	// EnvVars maps each variable name the code reads (envconfig tags,
	// os.Getenv, os.LookupEnv) to the first place that reads it.
	EnvVars map[string]string
	// EventTypes holds the event type names written in pkg/events: every
	// type the code consumes or emits is one of them.
	EventTypes map[string]bool
	// GetRoutes holds the paths of "GET /path" net/http patterns in the code.
	GetRoutes map[string]bool
}

// eventsPackage is where the event type names live.
const eventsPackage = "pkg/events"

// ScanRepo reads the module at root: go.mod for the module path,
// functions/**/*.go for the mains, and the non-test Go files of config/,
// functions/ and pkg/ for the environment variables.
func ScanRepo(root string) (*Repo, error) {
	r := &Repo{Root: root, Mains: map[string]bool{}, EnvVars: map[string]string{}, EventTypes: map[string]bool{}, GetRoutes: map[string]bool{}}
	mod, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	r.Module = mod
	fset := token.NewFileSet()
	for _, dir := range []string{"config", "functions", "pkg"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("parse %s: %w", path, err)
			}
			rel, _ := filepath.Rel(root, path)
			if dir == "functions" && f.Name.Name == "main" && declaresMain(f) {
				r.Mains[mod+"/"+filepath.ToSlash(filepath.Dir(rel))] = true
			}
			r.collectEnv(fset, rel, f)
			r.collectGetRoutes(f)
			if filepath.ToSlash(filepath.Dir(rel)) == eventsPackage {
				r.collectEventTypes(f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

func declaresMain(f *ast.File) bool {
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "main" {
			return true
		}
	}
	return false
}

// collectEnv records envconfig:"NAME" struct tags and os.Getenv("NAME") /
// os.LookupEnv("NAME") calls with a literal name.
func (r *Repo) collectEnv(fset *token.FileSet, rel string, f *ast.File) {
	add := func(name string, pos token.Pos) {
		if name == "" || name == "-" {
			return
		}
		if _, seen := r.EnvVars[name]; !seen {
			r.EnvVars[name] = fmt.Sprintf("%s:%d", rel, fset.Position(pos).Line)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.Field:
			if x.Tag == nil {
				return true
			}
			tag, err := strconv.Unquote(x.Tag.Value)
			if err != nil {
				return true
			}
			if name, ok := reflect.StructTag(tag).Lookup("envconfig"); ok {
				add(strings.Split(name, ",")[0], x.Pos())
			}
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok || len(x.Args) == 0 {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || pkg.Name != "os" || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
				return true
			}
			if lit, ok := x.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if name, err := strconv.Unquote(lit.Value); err == nil {
					add(name, x.Pos())
				}
			}
		}
		return true
	})
}

// eventTypeName is the shape of an event type: dotted lower-case words.
var eventTypeName = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)+$`)

// collectEventTypes records every string literal shaped like an event type
// (constants, and the alias table's keys).
func (r *Repo) collectEventTypes(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && eventTypeName.MatchString(s) {
				r.EventTypes[s] = true
			}
		}
		return true
	})
}

// getPattern is a net/http ServeMux pattern for GET.
var getPattern = regexp.MustCompile(`^GET (/\S*)$`)

// collectGetRoutes records the paths of "GET /path" string literals.
func (r *Repo) collectGetRoutes(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				if m := getPattern.FindStringSubmatch(s); m != nil {
					r.GetRoutes[m[1]] = true
				}
			}
		}
		return true
	})
}
