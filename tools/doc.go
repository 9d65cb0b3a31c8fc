// Module tools holds what exists to run, measure or break stripeline, beside
// the product (pkg/ and services/), never inside it: the local stack
// (devstack, cmd/stripeline-dev), the load generator and its one fixture set
// (loadgen, cmd/stripeline-load), the benchmark (bench, cmd/stripeline-bench,
// cmd/ingest-floor), the fault suite (chaos, tcpproxy, cmd/stripeline-chaos)
// and the tests' shared servers (testenv).
//
// It imports the product, never the reverse: no service binary links a
// package of it (house_test.go checks). The product's tests use testenv for
// their broker and databases; that edge exists for tests only.
package tools
