package syncer

import (
	"strings"
	"testing"
	"unsafe"
)

func TestInternerSharesEqualValues(t *testing.T) {
	var in Interner
	a, b := strings.Repeat("premium", 2), strings.Repeat("premium", 2) // equal, separately allocated
	if unsafe.StringData(a) == unsafe.StringData(b) {
		t.Fatal("the test needs two copies")
	}
	if x, y := in.String(a), in.String(b); x != a || unsafe.StringData(x) != unsafe.StringData(y) {
		t.Errorf("equal strings not shared: %q %q", x, y)
	}
	if v := in.Value(12.5); v != 12.5 {
		t.Errorf("number changed: %v", v)
	}
	if v := in.Value(true); v != true {
		t.Errorf("bool changed: %v", v)
	}
	odd := map[string]any{"x": 1}
	if v, ok := in.Value(odd).(map[string]any); !ok || len(v) != 1 {
		t.Errorf("a value it does not share must come back as it is: %v", v)
	}
	var none *Interner
	if none.String(a) != a || none.Value(3.0) != 3.0 {
		t.Error("a nil Interner must share nothing and change nothing")
	}
}
