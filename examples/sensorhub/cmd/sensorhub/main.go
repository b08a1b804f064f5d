// sensorhub summarises sensor readings: a small multi-package program for cross-build benchmarks.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"example.com/sensorhub/internal/filter"
	"example.com/sensorhub/internal/reading"
	"example.com/sensorhub/internal/report"
)

const sample = `{"sensor":"temp","value":21.5,"at":"2026-11-27T10:00:00Z"}
{"sensor":"temp","value":22.1,"at":"2026-11-27T10:01:00Z"}
{"sensor":"humidity","value":40,"at":"2026-11-27T10:00:00Z"}
{"sensor":"temp","value":21.9,"at":"2026-11-27T10:02:00Z"}
{"sensor":"humidity","value":42,"at":"2026-11-27T10:01:00Z"}`

func main() {
	rs, err := reading.Parse(strings.NewReader(sample))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	text, gz, digest, link, err := report.Render(filter.Summarise(rs))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("sensorhub on %s/%s\n%sgzip=%dB digest=%s %s\n", runtime.GOOS, runtime.GOARCH, text, gz, digest, link)
}
