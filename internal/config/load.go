package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path over Default and validates the result.
// Keys the file leaves out keep their defaults. Unknown keys are errors,
// so that a misspelled key is not silently ignored.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read the --config file: %w", err)
	}

	cfg, err := parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parse decodes a YAML document over Default and fills the defaults that
// depend on what the document contains.
func parse(data []byte) (Config, error) {
	cfg := Default()

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, err
	}
	if doc.Kind == 0 {
		// An empty file or one with only comments.
		return cfg, nil
	}

	schema := newSchemaWalker()
	schema.walk(&doc, configType, "")
	if len(schema.problems) > 0 {
		return Config{}, errors.Join(schema.problems...)
	}
	if err := doc.Decode(&cfg); err != nil {
		return Config{}, schema.explain(err)
	}

	// Default's filesystem storage stays in place when the file only adds
	// s3; dropping it lets Validate report s3 alone.
	if cfg.Storage.S3 != nil && !hasKey(&doc, "storage", "filesystem") {
		cfg.Storage.Filesystem = nil
	}
	cfg.applyUpstreamDefaults()
	return cfg, nil
}

// yamlErrorLine matches the "line N: message" form of the entries of a
// yaml.TypeError.
var yamlErrorLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// explain rewrites the decoder's "line N: message" errors to start with the
// key path of line N.
func (w *schemaWalker) explain(err error) error {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return err
	}

	var problems []error
	for _, entry := range typeErr.Errors {
		match := yamlErrorLine.FindStringSubmatch(entry)
		if match == nil {
			problems = append(problems, errors.New(entry))
			continue
		}
		line, _ := strconv.Atoi(match[1])
		problems = append(problems, fmt.Errorf("%s: %s (line %d)", w.pathAt(line), match[2], line))
	}
	return errors.Join(problems...)
}

// hasKey reports whether the document sets the mapping key at path.
func hasKey(doc *yaml.Node, path ...string) bool {
	node := doc
	if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	for _, key := range path {
		if node.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == key {
				next = node.Content[i+1]
			}
		}
		if next == nil {
			return false
		}
		node = next
	}
	return true
}
