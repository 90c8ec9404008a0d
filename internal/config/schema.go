package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
)

// schemaWalker goes through a YAML document alongside the Config type before
// it is decoded. It reports unknown keys by their path, and it records the
// key path on each line so that decoding errors can name it.
//
// It also turns a bare 0 for a duration into "0s". yaml.v3 decodes
// durations only from strings, yet "tag_ttl: 0" is the natural way to ask
// for revalidation on every request.
type schemaWalker struct {
	problems []error
	// leaves maps a line to the paths of the scalar values on it, and
	// containers to the paths of the mappings and sequences that start on
	// it.
	leaves     map[int][]string
	containers map[int][]string
}

func newSchemaWalker() *schemaWalker {
	return &schemaWalker{leaves: map[int][]string{}, containers: map[int][]string{}}
}

func (w *schemaWalker) walk(node *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	switch node.Kind {
	case yaml.DocumentNode:
		for _, child := range node.Content {
			w.walk(child, t, path)
		}
	case yaml.AliasNode:
		w.walk(node.Alias, t, path)
	case yaml.MappingNode:
		w.containers[node.Line] = append(w.containers[node.Line], path)
		if t.Kind() == reflect.Struct {
			w.walkMapping(node, t, path)
		}
	case yaml.SequenceNode:
		w.containers[node.Line] = append(w.containers[node.Line], path)
		if t.Kind() == reflect.Slice {
			for i, item := range node.Content {
				w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case yaml.ScalarNode:
		w.leaves[node.Line] = append(w.leaves[node.Line], path)
		if t == durationType {
			w.fixDuration(node, path)
		}
	}
}

func (w *schemaWalker) walkMapping(node *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]

		// A merge key ("<<: *defaults") brings in the keys of another
		// mapping, which belong to the same struct.
		if key.Tag == "!!merge" {
			w.walk(value, t, path)
			continue
		}

		keyPath := joinPath(path, key.Value)
		field, ok := fields[key.Value]
		if !ok {
			w.problems = append(w.problems, fmt.Errorf("%s: unknown key (line %d)", keyPath, key.Line))
			continue
		}
		w.walk(value, field.Type, keyPath)
	}
}

// fixDuration rewrites a bare integer 0 to "0s" and reports any other bare
// integer, which would be ambiguous between seconds and nanoseconds.
func (w *schemaWalker) fixDuration(node *yaml.Node, path string) {
	if node.Tag != "!!int" {
		return
	}
	if node.Value == "0" {
		node.Value, node.Tag = "0s", "!!str"
		return
	}
	w.problems = append(w.problems, fmt.Errorf("%s: invalid duration %s: add a unit, such as %ss or 5m (line %d)", path, node.Value, node.Value, node.Line))
}

// pathAt returns the key path of what line holds: the closest path that
// contains every scalar value on it, or else the innermost mapping or
// sequence that starts on it. A block mapping starts on the line of its
// first key, so the outer containers of that line are not what failed.
func (w *schemaWalker) pathAt(line int) string {
	if leaves := w.leaves[line]; len(leaves) > 0 {
		common := leaves[0]
		for _, path := range leaves[1:] {
			common = commonPath(common, path)
		}
		if common == "" {
			return "(top level)"
		}
		return common
	}

	if containers := w.containers[line]; len(containers) > 0 {
		return containers[len(containers)-1]
	}
	return fmt.Sprintf("line %d", line)
}

// yamlFields maps the YAML keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		field := t.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(field.Name)
		}
		fields[name] = field
	}
	return fields
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// commonPath returns the longest path that a and b both start with, cut at
// a "." or "[" boundary.
func commonPath(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if n == len(a) && n == len(b) {
		return a
	}
	if n == len(a) && (b[n] == '.' || b[n] == '[') || n == len(b) && (a[n] == '.' || a[n] == '[') {
		return a[:n]
	}
	cut := strings.LastIndexAny(a[:n], ".[")
	if cut < 0 {
		return ""
	}
	return a[:cut]
}
