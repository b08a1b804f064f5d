module example.com/sensorhub

go 1.21
