// Package reading parses sensor readings from line-oriented JSON.
package reading

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Reading is one sample from one sensor.
type Reading struct {
	Sensor string    `json:"sensor"`
	Value  float64   `json:"value"`
	At     time.Time `json:"at"`
}

// Parse reads one JSON reading per line.
func Parse(r io.Reader) ([]Reading, error) {
	var out []Reading
	scanner := bufio.NewScanner(r)
	for line := 1; scanner.Scan(); line++ {
		var rd Reading
		if err := json.Unmarshal(scanner.Bytes(), &rd); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, rd)
	}
	return out, scanner.Err()
}
