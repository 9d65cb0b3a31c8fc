package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/stripeline/stripeline/pkg/cli"
	"github.com/stripeline/stripeline/tools/devproxy"
)

// trigger asks make run's development proxy to send one event, as
// `stripe trigger` asks Stripe: the object as the proxy last answered it
// (or stripe-mock's fixture with that id), in the state the event says.
func trigger(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-dev trigger sends one signed event about an object to make run's webhook-ingest,\n"+
		"through the development proxy.\n\nusage: stripeline-dev trigger <event type> --id <object id> [flags]\n\n"+
		"e.g. stripeline-dev trigger charge.refunded --id ch_3Q…\n"+
		"     stripeline-dev trigger charge.refunded < charge.json   (the id of the api's answer to a payment)")
	id := fs.String("id", "", "the object's id (ch_…, pi_…, …); without it, the id of the api's answer on stdin")
	proxy := fs.String("proxy", "127.0.0.1:12111", "the development proxy's address (make run's stripe api)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The event type may come before or after the flags.
	typ := fs.Arg(0)
	if fs.NArg() > 0 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if typ == "" || fs.NArg() > 0 {
		return errors.New("usage: stripeline-dev trigger <event type> --id <object id>")
	}
	if *id == "" {
		var answer struct{ ID string }
		if err := json.NewDecoder(in).Decode(&answer); err != nil || answer.ID == "" {
			return errors.New("no --id, and stdin is not the api's answer to a payment: stripeline-dev trigger <event type> --id <object id>")
		}
		*id = answer.ID
	}
	body, _ := json.Marshal(devproxy.TriggerRequest{Type: typ, ID: *id})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+*proxy+"/_stripeline/trigger", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is make run running, with its development proxy at %s?)", err, *proxy)
	}
	defer resp.Body.Close()
	var answer struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fmt.Errorf("the proxy answered %s, not JSON: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the proxy refused: %s", answer.Error.Message)
	}
	fmt.Fprintf(out, "queued %s %s about %s for webhook-ingest (the proxy retries until it is taken; its log says when)\n", answer.Type, answer.ID, *id)
	return nil
}
