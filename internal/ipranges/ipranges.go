// Package ipranges reads AWS's published address ranges (the ip-ranges.json
// format) and finds the ranges that hold an address. Docker Hub counts
// anonymous pulls per IPv4 address or IPv6 /64. A build that egresses from
// a shared cloud range may share its address, and so its quota, with other
// tenants of that range. This package names that range.
package ipranges

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"os"
	"slices"
)

// maxFileSize bounds the file read; AWS's own file is a few MiB.
const maxFileSize = 64 << 20

// Range is one published prefix.
type Range struct {
	Prefix  netip.Prefix
	Service string // such as AMAZON, EC2, CODEBUILD
	Region  string
}

// Addresses returns how many addresses the range holds.
func (r Range) Addresses() *big.Int {
	return new(big.Int).Lsh(big.NewInt(1), uint(r.Prefix.Addr().BitLen()-r.Prefix.Bits()))
}

// Networks64 returns how many IPv6 /64 networks the range holds, the unit
// Docker Hub counts IPv6 clients by; 0 for IPv4 and for ranges smaller
// than a /64.
func (r Range) Networks64() *big.Int {
	if !r.Prefix.Addr().Is6() || r.Prefix.Bits() > 64 {
		return big.NewInt(0)
	}
	return new(big.Int).Lsh(big.NewInt(1), uint(64-r.Prefix.Bits()))
}

// Ranges is a parsed ip-ranges.json.
type Ranges struct {
	CreateDate string
	Ranges     []Range
}

type file struct {
	CreateDate string `json:"createDate"`
	Prefixes   []struct {
		IPPrefix string `json:"ip_prefix"`
		Region   string `json:"region"`
		Service  string `json:"service"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix string `json:"ipv6_prefix"`
		Region     string `json:"region"`
		Service    string `json:"service"`
	} `json:"ipv6_prefixes"`
}

// Load reads an ip-ranges.json file.
func Load(path string) (*Ranges, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read address ranges: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read address ranges %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("read address ranges %s: larger than %d bytes", path, maxFileSize)
	}
	return Parse(data)
}

// Parse parses the contents of an ip-ranges.json file.
func Parse(data []byte) (*Ranges, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse address ranges: %w", err)
	}

	out := &Ranges{CreateDate: f.CreateDate}
	add := func(prefix, service, region string) error {
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			return fmt.Errorf("parse address ranges: %w", err)
		}
		out.Ranges = append(out.Ranges, Range{Prefix: p.Masked(), Service: service, Region: region})
		return nil
	}
	for _, p := range f.Prefixes {
		if err := add(p.IPPrefix, p.Service, p.Region); err != nil {
			return nil, err
		}
	}
	for _, p := range f.IPv6Prefixes {
		if err := add(p.IPv6Prefix, p.Service, p.Region); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Containing returns the ranges that hold addr, smallest first. AWS lists
// an address under several services (AMAZON and EC2, say), each of which
// is returned.
func (r *Ranges) Containing(addr netip.Addr) []Range {
	addr = addr.Unmap()
	var out []Range
	for _, rng := range r.Ranges {
		if rng.Prefix.Contains(addr) {
			out = append(out, rng)
		}
	}
	slices.SortStableFunc(out, func(a, b Range) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return out
}
