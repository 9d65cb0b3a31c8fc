//go:build !linux

package ws

import (
	"net"
	"syscall"
)

// waitable: the waiter is Linux-only (wait_linux.go); elsewhere the reader
// stays in gorilla's read path.
func waitable(net.Conn) syscall.RawConn { return nil }

func readable(uintptr) bool { return true }
