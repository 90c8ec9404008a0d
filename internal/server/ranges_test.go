package server

import "testing"

func TestParseRange(t *testing.T) {
	const size = 25471156
	tests := []struct {
		header string
		want   byteRange
		result rangeResult
	}{
		{"", byteRange{}, rangeWhole},
		{"bytes=0-8388607", byteRange{0, 8388607}, rangePartial},
		{"bytes=25165824-", byteRange{25165824, size - 1}, rangePartial},
		{"bytes=10485760-", byteRange{10485760, size - 1}, rangePartial},
		{"bytes=0-99999999", byteRange{0, size - 1}, rangePartial},
		{"bytes=-100", byteRange{size - 100, size - 1}, rangePartial},
		{"bytes=-99999999", byteRange{0, size - 1}, rangePartial},
		{"bytes=25471156-", byteRange{}, rangeUnsatisfiable},
		{"bytes=-0", byteRange{}, rangeUnsatisfiable},
		{"bytes=0-1,5-6", byteRange{}, rangeWhole},
		{"bytes=5-1", byteRange{}, rangeWhole},
		{"items=0-1", byteRange{}, rangeWhole},
		{"bytes=x-1", byteRange{}, rangeWhole},
	}
	for _, tt := range tests {
		got, result := parseRange(tt.header, size)
		if result != tt.result {
			t.Errorf("parseRange(%q) result = %d, want %d", tt.header, result, tt.result)
		}
		if got != tt.want {
			t.Errorf("parseRange(%q) = %+v, want %+v", tt.header, got, tt.want)
		}
	}
}

func TestParseRangeEmptyBlob(t *testing.T) {
	if _, result := parseRange("bytes=0-", 0); result != rangeUnsatisfiable {
		t.Errorf("range on an empty blob: result %d, want unsatisfiable", result)
	}
}
