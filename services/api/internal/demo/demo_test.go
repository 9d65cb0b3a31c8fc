package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stripeline/stripeline/tools/workspace"
)

// TestClientLibraryIsCurrent: the page's stripeline.js is the client
// library of clients/js, byte for byte (go generate copies it).
func TestClientLibraryIsCurrent(t *testing.T) {
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "clients", "js", "src", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := assets.ReadFile("assets/stripeline.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("services/api/internal/demo/assets/stripeline.js differs from clients/js/src/index.js: run go generate ./services/api/internal/demo/")
	}
}
