// A bare-metal Go program for QEMU's sifive_u machine: nothing beneath it but TamaGo's board support.
// It prints through the board's UART (QEMU's -serial stdio), then ends QEMU with exitCode through
// RISC-V semihosting (see exit_riscv64.s): the way a firmware test reports pass or fail to its host.
package main

import (
	"fmt"
	"runtime"

	_ "github.com/usbarmory/tamago/board/qemu/sifive_u"
)

// exitCode is what QEMU exits with; gxc run returns it.
const exitCode = 3

func main() {
	fmt.Println(greeting(runtime.Version(), runtime.GOOS, runtime.GOARCH))
	semihostingExit(exitCode)
}

// greeting is what the program prints; main_test.go tests it on the board (`gxc test -t riscv64-unknown-elf`).
func greeting(version, goos, goarch string) string {
	return fmt.Sprintf("hello from %s on %s/%s, no operating system below", version, goos, goarch)
}
