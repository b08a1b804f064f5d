package main

import (
	"runtime"
	"strings"
	"testing"
)

// Runs on the board itself: `gxc test -t riscv64-unknown-elf` boots this test binary under qemu-system-riscv64.
func TestGreetingNamesTheBoard(t *testing.T) {
	got := greeting(runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !strings.Contains(got, "on tamago/riscv64") {
		t.Errorf("greeting = %q, want it to name tamago/riscv64", got)
	}
}
