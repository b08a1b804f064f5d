// Package filter smooths readings per sensor.
package filter

import (
	"math"
	"sort"

	"example.com/sensorhub/internal/reading"
)

// Stats summarises one sensor.
type Stats struct {
	Sensor         string
	Count          int
	Mean, Min, Max float64
	Median, Stddev float64
}

// Summarise groups readings by sensor and computes their statistics.
func Summarise(rs []reading.Reading) []Stats {
	groups := map[string][]float64{}
	for _, r := range rs {
		groups[r.Sensor] = append(groups[r.Sensor], r.Value)
	}
	var out []Stats
	for sensor, values := range groups {
		sort.Float64s(values)
		s := Stats{Sensor: sensor, Count: len(values), Min: values[0], Max: values[len(values)-1]}
		for _, v := range values {
			s.Mean += v / float64(len(values))
		}
		for _, v := range values {
			s.Stddev += (v - s.Mean) * (v - s.Mean) / float64(len(values))
		}
		s.Stddev = math.Sqrt(s.Stddev)
		s.Median = values[len(values)/2]
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sensor < out[j].Sensor })
	return out
}
