package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// Poster sends HTTP/1.1 POSTs over keep-alive connections that it writes and
// reads itself, as wrk does. The load generator shares the machine's CPUs
// with the service it measures, and net/http's client costs a request
// comparable to what a webhook costs ingest (docs/webhook-ingest.md,
// "Measuring it"): with it, the figure would be the client's. Only plain http:// URLs; NewPoster refuses others (use an
// http.Client for TLS).
type Poster struct {
	addr    string
	head    []byte // "POST <path> HTTP/1.1\r\nHost: <host>\r\n"
	conns   chan *posterConn
	timeout time.Duration
}

type posterConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte // the request being written
}

// NewPoster posts to rawURL with up to concurrency connections.
func NewPoster(rawURL string, concurrency int) (*Poster, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("poster: %s: only http:// URLs", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &Poster{
		addr:    addr,
		head:    []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"),
		conns:   make(chan *posterConn, max(concurrency, 1)),
		timeout: 30 * time.Second,
	}, nil
}

// Post sends body with the header lines ("Name: value") and returns the
// answer's status; the answer's body is read and dropped.
func (p *Poster) Post(ctx context.Context, header []string, body []byte) (int, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return 0, err
	}
	status, keep, err := c.post(p.head, header, body, p.timeout)
	if err != nil || !keep {
		c.c.Close()
		return status, err
	}
	select {
	case p.conns <- c:
	default: // more connections than senders: should not happen
		c.c.Close()
	}
	return status, nil
}

func (p *Poster) conn(ctx context.Context) (*posterConn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	default:
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &posterConn{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the idle connections.
func (p *Poster) Close() {
	for {
		select {
		case c := <-p.conns:
			c.c.Close()
		default:
			return
		}
	}
}

func (c *posterConn) post(head []byte, header []string, body []byte, timeout time.Duration) (status int, keep bool, err error) {
	if err := c.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, false, err
	}
	b := append(c.buf[:0], head...)
	for _, h := range header {
		b = append(append(b, h...), "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(append(b, "\r\n\r\n"...), body...)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		return 0, false, err
	}
	return c.readAnswer()
}

// readAnswer reads an HTTP/1.x answer's status line and header, and drops
// its body. It reads only what a load generator needs (status, length,
// chunking, Connection: close): net/http's ReadResponse took a large share
// of the shared CPUs (docs/webhook-ingest.md, "Measuring it").
func (c *posterConn) readAnswer() (status int, keep bool, err error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("poster: malformed status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("poster: malformed status line %q", line)
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("poster: malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = !bytes.EqualFold(value, []byte("identity"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = keep && !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status/100 == 1 || status == http.StatusNoContent || status == http.StatusNotModified:
	case chunked:
		if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(c.r)); err != nil {
			return 0, false, err
		}
		for { // the trailer, up to its blank line
			line, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := c.r.Discard(int(length)); err != nil {
			return 0, false, err
		}
	default: // the body runs to the end of the connection
		if _, err := io.Copy(io.Discard, c.r); err != nil {
			return 0, false, err
		}
		keep = false
	}
	return status, keep, nil
}
