// Package workspace finds the repository from inside it: the folder holding
// go.work. It imports only the standard library, so that every module of the
// workspace (deployments included) can use it without taking pkg's
// dependencies.
package workspace

import (
	"errors"
	"os"
	"path/filepath"
)

// Root is the folder holding go.work, found from the working directory up.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory")
		}
		dir = parent
	}
}
