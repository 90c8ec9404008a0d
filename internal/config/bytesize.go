package config

import (
	"fmt"
	"math"
	"strconv"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// ByteSize is a number of bytes, written in the file as a plain integer or
// with a unit: "4MiB" and "50GiB" are binary (1024-based), "512MB" is
// decimal (1000-based).
type ByteSize int64

// binaryUnits are the suffixes String uses, largest first.
var binaryUnits = []struct {
	suffix string
	size   int64
}{
	{"TiB", 1 << 40},
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
}

// UnmarshalYAML accepts an integer, which may be negative so that Validate
// can name the key, or a string with a unit.
func (b *ByteSize) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid byte size: want a number such as 4MiB", node.Line)}}
	}

	if n, err := strconv.ParseInt(node.Value, 10, 64); err == nil {
		*b = ByteSize(n)
		return nil
	}
	n, err := humanize.ParseBytes(node.Value)
	if err != nil || n > math.MaxInt64 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid byte size %q: want a number of bytes or a size such as 4MiB, 512MB or 50GiB", node.Line, node.Value)}}
	}
	*b = ByteSize(n)
	return nil
}

// MarshalYAML writes the size exactly, with the largest binary unit that
// divides it, so that the output loads back to the same value. Sizes that no
// unit divides stay plain integers.
func (b ByteSize) MarshalYAML() (any, error) {
	text := b.String()
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, nil
	}
	return text, nil
}

func (b ByteSize) String() string {
	for _, unit := range binaryUnits {
		if b != 0 && int64(b)%unit.size == 0 {
			return strconv.FormatInt(int64(b)/unit.size, 10) + unit.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
