package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/cli"
)

// listen subscribes to one transaction on the notifier and prints each
// frame as it arrives, one JSON object a line, until Ctrl-C or the
// connection ends: what a client app does after a payment. The
// subscription comes from a charge or PaymentIntent answer on stdin (its
// subscribe block), or from --id and --token.
func listen(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-dev listen subscribes to one transaction's events on the notifier and prints each frame.\n\n"+
		"usage: stripeline-dev listen < charge.json     (the api's answer to a payment)\n"+
		"       stripeline-dev listen --id ch_… --token v1.…")
	notifier := fs.String("notifier", "ws://127.0.0.1:8082/ws", "the notifier's websocket")
	id := fs.String("id", "", "the transaction id (instead of an answer on stdin)")
	token := fs.String("token", "", "its subscription token (with --id)")
	count := fs.Int("n", 0, "stop after this many events (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sub := map[string]string{"type": "subscribe", "channel": "stripe"}
	if *id != "" {
		sub["selector"], sub["token"] = "id = '"+strings.ReplaceAll(*id, "'", "''")+"'", *token
	} else {
		var answer struct {
			Subscribe *struct{ Channel, Selector, Token string }
			Error     json.RawMessage
		}
		if err := json.NewDecoder(in).Decode(&answer); err != nil {
			return fmt.Errorf("stdin is not the api's answer to a payment (%v); or give --id and --token", err)
		}
		if answer.Subscribe == nil {
			return fmt.Errorf("the answer on stdin has no subscribe block (a refusal? %s)", answer.Error)
		}
		sub["channel"], sub["selector"], sub["token"] = answer.Subscribe.Channel, answer.Subscribe.Selector, answer.Subscribe.Token
	}
	c, _, err := websocket.DefaultDialer.DialContext(ctx, *notifier, nil)
	if err != nil {
		return fmt.Errorf("%s: %w (is make run running?)", *notifier, err)
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	if err := c.WriteJSON(sub); err != nil {
		return err
	}
	events := 0
	for {
		_, frame, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintf(out, "%s\n", frame)
		var f struct{ Type, Code, Message string }
		_ = json.Unmarshal(frame, &f)
		switch f.Type {
		case "error":
			return errors.New(f.Code + ": " + f.Message)
		case "message":
			if events++; *count > 0 && events >= *count {
				return nil
			}
		}
	}
}
