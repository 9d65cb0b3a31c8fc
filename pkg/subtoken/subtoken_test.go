package subtoken

import (
	"errors"
	"strings"
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

// TestRollingSecrets: the first key signs, every key verifies, and tokens
// signed with the single-secret setting keep working once that secret is one
// of several.
func TestRollingSecrets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	exp := now.Add(time.Minute)
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	single, err := ParseKeys(a)
	if err != nil || len(single) != 1 || single[0].ID != "" {
		t.Fatalf("ParseKeys(single) = %+v, %v", single, err)
	}
	before := single.Sign("ch_A", exp) // issued before the roll
	adding, _ := ParseKeys("k1:" + a + ",k2:" + b)
	rolled, err := ParseKeys("k2:" + b + ", k1:" + a)
	if err != nil || len(rolled) != 2 || rolled[0].ID != "k2" {
		t.Fatalf("ParseKeys(list) = %+v, %v", rolled, err)
	}
	retired, _ := ParseKeys("k2:" + b)
	during := adding.Sign("ch_A", exp)
	after := rolled.Sign("ch_A", exp)
	if !strings.HasPrefix(during, "v2.k1.") || !strings.HasPrefix(after, "v2.k2.") {
		t.Fatalf("tokens %q and %q do not name their keys", during, after)
	}
	tests := []struct {
		name  string
		keys  Keys
		token string
		want  error
	}{
		{"v1 token, secret now in a list", rolled, before, nil},
		{"signed by the old key, verified after the roll", rolled, during, nil},
		{"signed by the new key, verified before the roll", adding, after, nil},
		{"signed by the new key, verified by the single secret", single, after, ErrSignature},
		{"old key retired", retired, during, ErrSignature},
		{"v1 token, its secret retired", retired, before, ErrSignature},
		{"unknown key id", rolled, "v2.k9" + after[len("v2.k2"):], ErrSignature},
		{"key id swapped", rolled, "v2.k1" + after[len("v2.k2"):], ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.Verify(tt.token, "ch_A", now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err == nil && !got.Equal(exp) {
				t.Fatalf("expiry %v, want %v", got, exp)
			}
		})
	}
}

func TestParseKeysRefuses(t *testing.T) {
	long := strings.Repeat("s", 32)
	for _, v := range []string{"k1:" + long + ",k1:" + long, ":" + long, "k 1:" + long, long + ",k2:" + long} {
		if _, err := ParseKeys(v); err == nil {
			t.Errorf("ParseKeys(%q) accepted it", v)
		}
	}
	for v, want := range map[string]string{
		"":                     "is required",
		"k1:" + long + ",k2:x": "(key k2) is too short",
		"k1:" + long:           "",
		long:                   "",
	} {
		err := CheckSetting("SUBSCRIPTION_TOKEN_SECRET", v)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckSetting(%q) = %v, want %q", v, err, want)
		}
	}
}
