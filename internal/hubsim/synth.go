package hubsim

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/opencontainers/go-digest"
)

// A synthetic layer is a real gzip'd tar of exactly the requested size whose
// bytes are computed from their offset, so that a 64 MiB layer costs no
// memory and any range can be read directly. The tar holds one file of
// pseudo-random bytes. The gzip stream uses stored (uncompressed) deflate
// blocks, each 5 bytes of header plus up to 65535 bytes of tar, and a gzip
// comment pads the stream to the exact size.
const (
	gzipHeaderLen    = 10 // magic, method, flags, mtime, xfl, os
	gzipTrailerLen   = 8  // CRC-32 and size of the tar, little-endian
	storedBlockMax   = 65535
	storedHeaderLen  = 5 // BFINAL/BTYPE byte, LEN, NLEN
	tarBlock         = 512
	tarEndBlocks     = 2 // an archive ends with two zero blocks
	synthFileName    = "hubsim/large.bin"
	gzipFlagFComment = 0x10
)

// MinSyntheticLayerSize is the smallest size a synthetic layer can have: a
// one-block file in a tar, in one stored block, with an empty comment.
const MinSyntheticLayerSize = gzipHeaderLen + 1 + storedHeaderLen + (1+1+tarEndBlocks)*tarBlock + gzipTrailerLen

type synthLayer struct {
	size     int64
	seed     uint64
	header   []byte // gzip header with the padding comment
	tarHead  []byte // the file's 512-byte tar header
	fileSize int64
	tarSize  int64
	trailer  []byte

	digest digest.Digest // sha256 of the gzip stream
	diffID digest.Digest // sha256 of the tar
}

// newSynthLayer lays out a layer of exactly size bytes (at least
// MinSyntheticLayerSize) and computes its digest and diff id, which reads
// the whole layer twice.
func newSynthLayer(size int64, seed uint64) (*synthLayer, error) {
	if size < MinSyntheticLayerSize {
		return nil, fmt.Errorf("synthetic layer size %d is below the minimum of %d bytes", size, MinSyntheticLayerSize)
	}

	fixed := int64(gzipHeaderLen + 1 + gzipTrailerLen)
	streamLen := func(tarSize int64) int64 {
		blocks := (tarSize + storedBlockMax - 1) / storedBlockMax
		return fixed + tarSize + blocks*storedHeaderLen
	}

	// The largest tar of whole 512-byte blocks that fits; the comment
	// takes up the rest, under 600 bytes.
	blocks := (size-fixed)/tarBlock + 1
	for blocks > 1+1+tarEndBlocks && streamLen(blocks*tarBlock) > size {
		blocks--
	}
	tarSize := blocks * tarBlock
	padding := size - streamLen(tarSize)

	l := &synthLayer{
		size:     size,
		seed:     seed,
		fileSize: tarSize - (1+tarEndBlocks)*tarBlock,
		tarSize:  tarSize,
	}

	l.header = make([]byte, 0, gzipHeaderLen+padding+1)
	l.header = append(l.header, 0x1f, 0x8b, 8, gzipFlagFComment, 0, 0, 0, 0, 0, 255)
	l.header = append(l.header, bytes.Repeat([]byte{'.'}, int(padding))...)
	l.header = append(l.header, 0)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     synthFileName,
		Mode:     0o644,
		Size:     l.fileSize,
		ModTime:  seedTime,
		Format:   tar.FormatUSTAR,
	})
	if err != nil {
		return nil, fmt.Errorf("write tar header for synthetic layer of %d bytes: %w", size, err)
	}
	l.tarHead = buf.Bytes()[:tarBlock]

	crc := crc32.NewIEEE()
	diff := sha256.New()
	if _, err := io.Copy(io.MultiWriter(crc, diff), io.NewSectionReader(readerAtFunc(l.readTar), 0, l.tarSize)); err != nil {
		return nil, fmt.Errorf("hash synthetic tar: %w", err)
	}
	l.diffID = digest.NewDigest(digest.SHA256, diff)
	l.trailer = binary.LittleEndian.AppendUint32(nil, crc.Sum32())
	l.trailer = binary.LittleEndian.AppendUint32(l.trailer, uint32(l.tarSize))

	dgst, err := digest.SHA256.FromReader(io.NewSectionReader(l, 0, l.size))
	if err != nil {
		return nil, fmt.Errorf("hash synthetic layer: %w", err)
	}
	l.digest = dgst
	return l, nil
}

// readerAtFunc adapts a function to io.ReaderAt.
type readerAtFunc func(p []byte, off int64) (int, error)

func (f readerAtFunc) ReadAt(p []byte, off int64) (int, error) { return f(p, off) }

func (l *synthLayer) Size() int64 { return l.size }

// ReadAt fills p with the gzip stream from off.
func (l *synthLayer) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read synthetic layer at negative offset %d", off)
	}

	n := 0
	headerLen := int64(len(l.header))
	trailerStart := l.size - gzipTrailerLen
	for n < len(p) && off < l.size {
		var copied int
		switch {
		case off < headerLen:
			copied = copy(p[n:], l.header[off:])
		case off >= trailerStart:
			copied = copy(p[n:], l.trailer[off-trailerStart:])
		default:
			copied = l.readBlocks(p[n:], off-headerLen)
		}
		n += copied
		off += int64(copied)
	}

	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readBlocks fills p from offset rel of the deflate stream, within one
// stored block, and returns how many bytes it filled.
func (l *synthLayer) readBlocks(p []byte, rel int64) int {
	const span = storedHeaderLen + storedBlockMax
	block := rel / span
	within := rel % span
	blockStart := block * storedBlockMax
	blockLen := min(int64(storedBlockMax), l.tarSize-blockStart)

	if within < storedHeaderLen {
		final := byte(0)
		if blockStart+blockLen == l.tarSize {
			final = 1
		}
		head := []byte{final, byte(blockLen), byte(blockLen >> 8), ^byte(blockLen), ^byte(blockLen >> 8)}
		return copy(p, head[within:])
	}

	tarOff := blockStart + within - storedHeaderLen
	count := min(int64(len(p)), blockStart+blockLen-tarOff)
	l.readTar(p[:count], tarOff)
	return int(count)
}

// readTar fills p with the tar from off: the header, the file's bytes, then
// zeros for padding and the end-of-archive blocks.
func (l *synthLayer) readTar(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off < l.tarSize {
		var copied int
		switch {
		case off < tarBlock:
			copied = copy(p[n:], l.tarHead[off:])
		case off < tarBlock+l.fileSize:
			count := min(int64(len(p)-n), tarBlock+l.fileSize-off)
			l.fillFile(p[n:n+int(count)], off-tarBlock)
			copied = int(count)
		default:
			count := min(int64(len(p)-n), l.tarSize-off)
			clear(p[n : n+int(count)])
			copied = int(count)
		}
		n += copied
		off += int64(copied)
	}

	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fillFile fills p with the file's bytes from off. Byte i of the file is
// byte i%8 of splitmix64(seed + i/8), so any offset is computed directly.
func (l *synthLayer) fillFile(p []byte, off int64) {
	i := 0
	for i < len(p) {
		pos := off + int64(i)
		word := splitmix64(l.seed + uint64(pos/8))
		for shift := pos % 8; shift < 8 && i < len(p); shift++ {
			p[i] = byte(word >> (8 * shift))
			i++
		}
	}
}

// splitmix64 is the SplitMix64 output function, a cheap, well-mixed hash of
// a counter.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
