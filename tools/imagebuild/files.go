package main

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strconv"
)

// file is one entry of a layer: a directory when content is nil and dir
// is set, else a regular file.
type file struct {
	path    string // absolute path inside the image
	dir     bool
	mode    int64
	uid     int
	gid     int
	content []byte
}

// baseFiles returns the entries of the base layer. The passwd and group
// files give the non-root user a name and a home directory inside the
// container, so `USER pullcache` works in a derived Dockerfile.
func baseFiles(opts Options) []file {
	uid, gid := strconv.Itoa(userID), strconv.Itoa(groupID)
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"pullcache:x:" + uid + ":" + gid + ":pullcache:" + dataDir + ":/sbin/nologin\n"
	group := "root:x:0:\npullcache:x:" + gid + ":\n"

	return []file{
		{path: "/etc", dir: true, mode: 0o755},
		{path: "/etc/passwd", mode: 0o644, content: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, content: []byte(group)},
		{path: "/etc/ssl", dir: true, mode: 0o755},
		{path: "/etc/ssl/certs", dir: true, mode: 0o755},
		{path: caCertPath, mode: 0o644, content: opts.CACerts},
		{path: "/etc/pullcache", dir: true, mode: 0o755},
		{path: configPath, mode: 0o644, content: opts.Config},
		{path: "/tmp", dir: true, mode: 0o1777},
		{path: "/var", dir: true, mode: 0o755},
		{path: "/var/lib", dir: true, mode: 0o755},
		{path: dataDir, dir: true, mode: 0o750, uid: userID, gid: groupID},
	}
}

// binaryFiles returns the entries of the binary layer.
func binaryFiles(binary []byte) []file {
	return []file{
		{path: "/usr", dir: true, mode: 0o755},
		{path: path.Dir(binaryPath), dir: true, mode: 0o755},
		{path: binaryPath, mode: 0o755, content: binary},
	}
}

// writeTar writes files in order with a zero modification time, so the
// layer digest depends on the contents only.
func writeTar(w io.Writer, files []file) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		hdr := &tar.Header{
			Name:   f.path[1:], // layer paths are relative to the root
			Mode:   f.mode,
			Uid:    f.uid,
			Gid:    f.gid,
			Format: tar.FormatPAX,
		}
		if f.dir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if !f.dir {
			if _, err := tw.Write(f.content); err != nil {
				return fmt.Errorf("write %s: %w", f.path, err)
			}
		}
	}
	return tw.Close()
}
