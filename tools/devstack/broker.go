// Package devstack runs stripeline's pipeline on one machine: an embedded
// Kafka-protocol broker, stripe-mock, the database and the four services as
// processes. `make run`, the end-to-end tests, the bench and the fault suite
// all start the pipeline through it.
package devstack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is an embedded single-node Kafka-protocol broker (franz-go's kfake)
// listening on real TCP.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// BrokerConfig says where the broker listens and keeps its data.
type BrokerConfig struct {
	Addr       string   // host:port; port 0 picks a free one
	DataDir    string   // empty keeps everything in memory
	Topics     []string // created at start with Partitions partitions
	Partitions int32
}

// StartBroker starts the broker. Topics not listed are created on first use
// with cfg.Partitions partitions, as Kafka's auto.create.topics does.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker port %q: %w", portStr, err)
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(cfg.Partitions, cfg.Topics...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	return &Broker{cluster: c, addr: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, flushing its data folder when it has one.
func (b *Broker) Close() { b.cluster.Close() }

// FreePort is a free TCP port on loopback, never one it returned before in
// this process. The port is released before whoever asked binds it, so it
// is taken below the kernel's ephemeral range (32768–60999 here, read from
// /proc when it can be): a port the kernel offers for :0 is one it also
// gives outgoing connections as their local port, and in make test, with
// many test binaries connecting at once, a service's port was once taken
// that way before the service bound it ("address already in use").
func FreePort() (int, error) {
	low, high := belowEphemeral()
	for range 1000 {
		port := low + rand.IntN(high-low)
		handedOut.Lock()
		seen := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if seen {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		ln.Close()
		return port, nil
	}
	return 0, errors.New("devstack: no free port below the ephemeral range after 1000 tries")
}

// belowEphemeral is the range FreePort draws from: from 20000 up to the
// start of the kernel's ephemeral ports.
func belowEphemeral() (low, high int) {
	low, high = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > low+1000 {
				high = n
			}
		}
	}
	return low, high
}

// handedOut is every port FreePort returned.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeAddr is FreePort as a loopback host:port.
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// BrokersOr returns the comma-separated brokers when any are given, or else
// starts an embedded broker persisted in a temporary folder; stop releases
// what it started. Tools that measure against "a broker" use it.
func BrokersOr(brokers string) (addrs []string, stop func(), err error) {
	if brokers != "" {
		return strings.Split(brokers, ","), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "stripeline-broker-")
	if err != nil {
		return nil, nil, err
	}
	b, err := StartBroker(BrokerConfig{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 4})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return []string{b.Addr()}, func() { b.Close(); os.RemoveAll(dir) }, nil
}
