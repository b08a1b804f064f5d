module example.com/baremetal

go 1.25.2

require github.com/usbarmory/tamago v1.25.5
