package devstack

import "testing"

// Ports handed out are never handed out again: a stack picks a dozen before
// any of them is bound, and the kernel offers a released port again.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 3000 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
