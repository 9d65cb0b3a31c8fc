// Command healthcheck asks one HTTP endpoint whether the service is well and
// exits 0 when it answers 2xx, 1 otherwise.
//
//	healthcheck http://127.0.0.1:8080/readyz
//
// The service images are built FROM scratch and hold no curl or shell, so a
// Docker HEALTHCHECK or a compose healthcheck runs this instead.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/stripeline/stripeline/pkg/cli"
)

const usage = `healthcheck asks one HTTP endpoint whether the service is well: exit 0 when
it answers 2xx within 3 s, 1 otherwise. It reads no settings.

usage: healthcheck URL     e.g. healthcheck http://127.0.0.1:9080/readyz`

func main() {
	if cli.IsHelp(os.Args[1:]) {
		fmt.Println(usage)
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err := check(os.Args[1], 3*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func check(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
