package subtoken

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_700_000_000, 0)
	good := Sign(secret, "ch_A", now.Add(time.Minute))
	tests := []struct {
		name  string
		token string
		id    string
		at    time.Time
		want  error
	}{
		{"valid", good, "ch_A", now, nil},
		{"other id", good, "ch_B", now, ErrWrongID},
		{"expired", good, "ch_A", now.Add(time.Minute), ErrExpired},
		{"forged with another secret", Sign([]byte("other"), "ch_A", now.Add(time.Minute)), "ch_A", now, ErrSignature},
		{"tampered expiry", "v1.9999999999" + good[len("v1.1700000060"):], "ch_A", now, ErrSignature},
		{"garbage", "hello", "ch_A", now, ErrMalformed},
		{"empty", "", "ch_A", now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(secret, tt.token, tt.id, tt.at); !errors.Is(got, tt.want) {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}
