package main

import (
	"archive/tar"
	"io"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestBuild_writesAReproducibleNonRootBaseIntoTheCache(t *testing.T) {
	for _, path := range []string{"/etc/ssl/certs/ca-certificates.crt", "/usr/share/zoneinfo/Europe/Berlin"} {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("this machine has no %s (Debian packages ca-certificates and tzdata): %v", path, err)
		}
	}
	cache := t.TempDir()
	first, err := build(cache, "amd64", "/etc/ssl/certs/ca-certificates.crt", "/usr/share/zoneinfo")
	if err != nil {
		t.Fatal(err)
	}
	second, err := build(t.TempDir(), "amd64", "/etc/ssl/certs/ca-certificates.crt", "/usr/share/zoneinfo")
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("two builds from the same files differ: %s and %s", first, second)
	}

	p, err := layout.FromPath(cache)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(first)
	if err != nil {
		t.Fatalf("image %s not in the cache layout: %v", first, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532" || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config: user %q, platform %s/%s; want 65532, linux/amd64", cfg.Config.User, cfg.OS, cfg.Architecture)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %v, %d; want one", err, len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := map[string]bool{"etc/passwd": false, "etc/ssl/certs/ca-certificates.crt": false, "usr/share/zoneinfo/Europe/Berlin": false}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := want[h.Name]; ok {
			want[h.Name] = h.Typeflag == tar.TypeReg && h.Size > 0
		}
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("%s missing from the base layer", name)
		}
	}
}
