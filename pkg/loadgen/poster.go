package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Poster sends HTTP/1.1 POSTs over keep-alive connections that it writes and
// reads itself, as wrk does. The load generator shares the machine's CPUs
// with the service it measures, and net/http's client costs about as much
// per request as a webhook costs ingest: with it, the figure would be the
// client's. Only plain http:// URLs; NewPoster refuses others (use an
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
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	if resp.Close {
		return resp.StatusCode, false, nil
	}
	return resp.StatusCode, true, nil
}
