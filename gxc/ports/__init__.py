"""The port registry: built-in, user and project port files merged and validated, `go tool dist list`
ports, hardening flags, what a Go binary says about itself (`binaryinfo`), the runners gxc ships
(node WASI) and the bare-metal BIOS helper.

May import: gxc.ground, gxc.project, gxc.sources. Toolchains, pins and policy use the registry, so it
sits below them; building for a port is gxc.delivery's.
"""
