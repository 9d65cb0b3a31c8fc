// Package devstack runs stripeline's pipeline on one machine: an embedded
// Kafka-protocol broker, stripe-mock, the database and the four services as
// processes. `make run`, the end-to-end tests, the bench and the fault suite
// all start the pipeline through it.
package devstack

import (
	"errors"
	"fmt"
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

// FreePort asks the kernel for a free TCP port on loopback, never one it
// returned before in this process: the port is released before whoever
// asked binds it, and the kernel may offer it again meanwhile (a stack's
// api and stripe-mock once got the same port, and the api could not start).
func FreePort() (int, error) {
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		handedOut.Lock()
		seen := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if !seen {
			return port, nil
		}
	}
	return 0, errors.New("devstack: every free port the kernel offered was handed out before")
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
