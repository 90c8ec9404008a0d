package ipranges

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// A made-up file in AWS's format, with documentation addresses.
const sample = `{
  "syncToken": "1700000000",
  "createDate": "2026-12-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "198.51.100.0/24", "region": "ap-northeast-1", "service": "AMAZON", "network_border_group": "ap-northeast-1"},
    {"ip_prefix": "198.51.100.0/26", "region": "ap-northeast-1", "service": "CODEBUILD", "network_border_group": "ap-northeast-1"},
    {"ip_prefix": "203.0.113.0/24", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2001:db8:1000::/40", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"}
  ]
}`

func TestContaining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ip-ranges.json")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	ranges, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}

	got := ranges.Containing(netip.MustParseAddr("198.51.100.7"))
	if len(got) != 2 || got[0].Service != "CODEBUILD" || got[1].Service != "AMAZON" {
		t.Fatalf("Containing = %+v, want CODEBUILD /26 then AMAZON /24", got)
	}
	if got[0].Addresses().Int64() != 64 || got[1].Addresses().Int64() != 256 {
		t.Errorf("sizes = %v, %v; want 64, 256", got[0].Addresses(), got[1].Addresses())
	}

	v6 := ranges.Containing(netip.MustParseAddr("2001:db8:1000::"))
	if len(v6) != 1 || v6[0].Region != "eu-west-1" {
		t.Fatalf("Containing(v6) = %+v", v6)
	}
	if v6[0].Networks64().Int64() != 1<<24 {
		t.Errorf("/64 networks = %v, want 2^24", v6[0].Networks64())
	}

	if none := ranges.Containing(netip.MustParseAddr("192.0.2.1")); len(none) != 0 {
		t.Errorf("Containing(outside) = %+v, want none", none)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse([]byte(`{"prefixes":[{"ip_prefix":"not-a-prefix"}]}`)); err == nil {
		t.Error("Parse accepted a bad prefix")
	}
	if _, err := Parse([]byte(`[`)); err == nil {
		t.Error("Parse accepted broken JSON")
	}
}
