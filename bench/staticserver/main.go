// Command staticserver serves the files under -root with http.ServeFile:
// GET /v2/library/x/blobs/sha256:abc returns ROOT/v2/library/x/blobs/sha256:abc.
// The benchmark harness uses it as the machine's limit for serving the
// same bytes that a mirror serves from its store.
package main

import (
	"flag"
	"log"
	"net/http"
	"path"
	"path/filepath"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5100", "listen address, host:port")
	root := flag.String("root", ".", "directory whose files are served")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// A fixed type keeps ServeFile from sniffing the first 512 bytes.
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeFile(w, r, filepath.Join(*root, filepath.FromSlash(path.Clean("/"+r.URL.Path))))
	})
	log.Fatal(http.ListenAndServe(*listen, mux))
}
