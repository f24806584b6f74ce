// Command kobase builds a minimal static, non-root base image for ko without
// any network, writes it into ko's image cache ($KOCACHE/img, an OCI layout)
// and prints its digest-pinned reference. ko resolves a base image pinned by
// digest from that cache without contacting a registry, so with
//
//	KO_DEFAULTBASEIMAGE=$(go run ./tools/kobase) KOCACHE=... ko build --push=false ...
//
// the function images build where gcr.io/distroless/static-debian12:nonroot
// (the .ko.yaml default) cannot be pulled. The image mirrors what that base
// gives a Go binary: CA certificates, time zone data, /etc/passwd and
// /etc/group with the nonroot user 65532, and User 65532. Its files come from
// this machine (Debian's ca-certificates and tzdata); timestamps are zero, so
// the same files give the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	cache := flag.String("cache", os.Getenv("KOCACHE"), "ko cache directory (KOCACHE); the image goes into its img/ OCI layout")
	repo := flag.String("repo", "local.invalid/matching-static", "repository name of the printed reference (never contacted)")
	arch := flag.String("arch", "amd64", "image architecture (the functions are built for the same with ko --platform)")
	certs := flag.String("certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include")
	zoneinfo := flag.String("zoneinfo", "/usr/share/zoneinfo", "time zone database to include")
	flag.Parse()
	if *cache == "" {
		fmt.Fprintln(os.Stderr, "kobase: set KOCACHE or -cache")
		os.Exit(2)
	}
	digest, err := build(filepath.Join(*cache, "img"), *arch, *certs, *zoneinfo)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kobase: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s@%s\n", *repo, digest)
}

func build(layoutDir, arch, certs, zoneinfo string) (v1.Hash, error) {
	files, err := baseFiles(certs, zoneinfo)
	if err != nil {
		return v1.Hash{}, err
	}
	layer, err := tarLayer(files)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return v1.Hash{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Config.User = "65532"
	cfg.Config.WorkingDir = "/home/nonroot"
	cfg.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		if p, err = layout.Write(layoutDir, empty.Index); err != nil {
			return v1.Hash{}, err
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := p.Image(digest); err == nil {
		return digest, nil // already cached
	}
	if err := p.AppendImage(img); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

// file is one entry of the base layer.
type file struct {
	name string // path in the image, without a leading slash
	mode int64
	dir  bool
	body []byte
}

func baseFiles(certs, zoneinfo string) ([]file, error) {
	files := []file{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/nonroot", mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/share", mode: 0o755, dir: true},
	}
	b, err := os.ReadFile(certs)
	if err != nil {
		return nil, err
	}
	files = append(files, file{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: b})
	err = filepath.WalkDir(zoneinfo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(zoneinfo, path)
		// right/ and posix/ duplicate the database with leap seconds or as
		// links; Go reads neither.
		if d.IsDir() && (rel == "right" || rel == "posix") {
			return filepath.SkipDir
		}
		name := "usr/share/zoneinfo"
		if rel != "." {
			name += "/" + filepath.ToSlash(rel)
		}
		if d.IsDir() {
			files = append(files, file{name: name, mode: 0o755, dir: true})
			return nil
		}
		body, err := os.ReadFile(path) // follows links, so the image holds plain files
		if err != nil {
			return err
		}
		files = append(files, file{name: name, mode: 0o644, body: body})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, nil
}

// tarLayer writes files into one uncompressed tar with fixed owners and zero
// timestamps, so the layer's digest depends on the contents only.
func tarLayer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, f.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if strings.HasPrefix(f.name, "home/nonroot") {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}
