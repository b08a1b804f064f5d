package main

// adpStoppedApplicationExit is the semihosting reason for a normal exit (ADP_Stopped_ApplicationExit).
const adpStoppedApplicationExit = 0x20026

// sysExit asks the debugger (QEMU with -semihosting) to end the program; implemented in exit_riscv64.s.
func sysExit(block *[2]uint64)

// semihostingExit makes QEMU exit with code: SYS_EXIT with the {reason, code} parameter block.
func semihostingExit(code int) {
	block := [2]uint64{adpStoppedApplicationExit, uint64(code)}
	sysExit(&block)
	for { // not under a debugger: nothing else to do
	}
}
