package loadgen

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// A request with no answer is counted, and the first one's cause is kept,
// so a failing run says why.
func TestRunKeepsTheFirstError(t *testing.T) {
	var n atomic.Int64
	res := Run(context.Background(), Load{Concurrency: 2, Count: 10}, func(context.Context) (int, error) {
		if n.Add(1) == 3 {
			return 0, errors.New("connection reset by peer")
		}
		return 200, nil
	})
	if res.Errors != 1 || res.Accepted != 9 || res.FirstErr != "connection reset by peer" {
		t.Fatalf("result %+v: want 1 error, 9 accepted, the first error kept", res)
	}
	if !strings.Contains(res.String(), "first error: connection reset by peer") {
		t.Fatalf("String() does not say the first error: %s", res)
	}
}
