// hello prints where it runs: the demo builds it for riscv64 and wasm and runs it under qemu and node.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	fmt.Printf("hello from %s on %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if len(os.Args) > 1 {
		fmt.Printf(" (args: %s)", strings.Join(os.Args[1:], " "))
	}
	fmt.Println()
}
