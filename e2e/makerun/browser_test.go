package makerun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/stripeline/stripeline/tools/workspace"
)

// chromium is the browser's path: STRIPELINE_CHROMIUM, or Chromium on the
// machine, installed by deployments/local/chromium.sh when missing. The test
// fails, saying why, when there is none: it is never skipped.
func chromium(t *testing.T) string {
	t.Helper()
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "deployments", "local", "chromium.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("no Chromium for the browser test, and deployments/local/chromium.sh could not install one (%v): install Debian's chromium package or set STRIPELINE_CHROMIUM", err)
	}
	return strings.TrimSpace(string(out))
}

// TestDemoInABrowser pays on the demo page, in a real Chromium, through the
// JavaScript client, the api and the development proxy, and waits for the
// charge's webhook event to arrive over the notifier's websocket; then a
// declined card shows its decline code. Screenshots of both are kept in the
// test artifacts.
func TestDemoInABrowser(t *testing.T) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // as root in a container
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1000, 1100),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	var (
		mu     sync.Mutex
		thrown []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			thrown = append(thrown, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	dir := artifacts(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(stack.URL("api")+"/demo/#key="+stack.Config.APIKey),
		chromedp.WaitVisible(chromedp.ID("pay")),
		chromedp.SetValue(chromedp.ID("card"), "tok_visa"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS(`#events li[data-type="charge.succeeded"]`)),
	)
	if err != nil {
		t.Fatalf("paying with tok_visa on /demo/: %v (page exceptions: %v)", err, thrown)
	}
	chargeID := text(`#charge dd[data-field="id"]`)
	eventText := text(`#events li[data-type="charge.succeeded"]`)
	shot("demo-paid.png")
	if !strings.HasPrefix(chargeID, "ch_") || !strings.Contains(eventText, "charge.succeeded evt_") {
		t.Fatalf("charge %q, event %q", chargeID, eventText)
	}

	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("card"), "tok_chargeDeclinedInsufficientFunds"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.CSS(`#error[data-code="card_declined"]`)),
	)
	if err != nil {
		t.Fatalf("paying with tok_chargeDeclinedInsufficientFunds on /demo/: %v (page exceptions: %v)", err, thrown)
	}
	errorText := text("#error")
	declineCode, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("error"), "data-decline-code"))
	if err != nil {
		t.Fatal(err)
	}
	shot("demo-declined.png")
	if declineCode.Value != "insufficient_funds" || !strings.Contains(errorText, "card_declined") || !strings.Contains(errorText, "insufficient_funds") {
		t.Fatalf("decline shown as %q (decline code %q)", errorText, declineCode.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(thrown) > 0 {
		t.Fatalf("the page threw: %v", thrown)
	}
}
