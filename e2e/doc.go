// Package e2e holds the end-to-end tests: the four services as real
// processes against PostgreSQL, the broker over TCP and stripe-mock over HTTP.
package e2e
