package ws

import (
	"net"
	"syscall"
)

// waitable is the socket a waiter can wait on, or nil when nc is not a plain
// TCP socket (a TLS or wrapping net.Conn may hold bytes of its own that the
// socket does not show): the reader then stays in gorilla's read path.
func waitable(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// readable is the callback of the waiter's syscall.RawConn.Read: it peeks at
// one byte without blocking and without consuming it. false (nothing to
// read yet) makes the runtime park the goroutine until the poller reports
// the socket readable, or the read deadline passes, and call it again; true
// (a byte, the end of the stream or an error) ends the wait, and gorilla's
// read then sees what is there.
func readable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
