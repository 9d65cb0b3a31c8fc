package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootFindsGoWork(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("Root() = %s, which holds no go.work", root)
	}
	t.Chdir(t.TempDir())
	if _, err := Root(); err == nil {
		t.Error("Root() found a go.work above a temporary folder")
	}
}
