package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/tools/workspace"
)

// ProcessConfig describes a child process.
type ProcessConfig struct {
	Name string
	Path string
	Args []string
	Env  []string  // added to this process's environment
	Log  io.Writer // stdout and stderr; nil discards
}

// Process is a running child.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// Start starts the process.
func Start(cfg ProcessConfig) (*Process, error) {
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout, cmd.Stderr = cfg.Log, cfg.Log
	// Own process group: Ctrl-C in a terminal reaches the parent only, which
	// then stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	p := &Process{Name: cfg.Name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error, valid after Done.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM and waits up to grace before killing.
func (p *Process) Stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, grace)
	}
}

// Pause stops the process (SIGSTOP) until Resume: it keeps its state and
// sockets but uses no CPU.
func (p *Process) Pause() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitTCP polls addr until it accepts a connection or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	return poll(ctx, func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// WaitReady polls url (a /readyz) until it answers 200, the process exits, or
// ctx ends.
func WaitReady(ctx context.Context, p *Process, url string) error {
	return poll(ctx, func() error {
		select {
		case <-p.done:
			return backoffStop{fmt.Errorf("%s exited: %v", p.Name, p.err)}
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	})
}

type backoffStop struct{ error }

func poll(ctx context.Context, try func() error) error {
	var last error
	for {
		last = try()
		if last == nil {
			return nil
		}
		var stop backoffStop
		if errors.As(last, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Services are stripeline's four services, in start order.
var Services = []string{"event-writer", "notifier", "webhook-ingest", "api"}

// WorkspaceRoot is the folder holding go.work, found from the working directory up
// (workspace.Root).
func WorkspaceRoot() (string, error) { return workspace.Root() }

// BuildServices compiles the four services (and the extra packages given, as
// import paths) into dir.
func BuildServices(ctx context.Context, dir string, log io.Writer, extra ...string) error {
	root, err := WorkspaceRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, s := range Services {
		args = append(args, "github.com/stripeline/stripeline/services/"+s+"/cmd/"+s)
	}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build services: %w", err)
	}
	return nil
}
