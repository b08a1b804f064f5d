"""What a project says and whether gxc believes it: pin files of every kind (toolchains.toml,
.go-version, .tool-versions, go.work, go.mod), the user's trust records, which toolchain applies in
a directory and why (`resolve`), and the projects gxc knows of.

May import: gxc.ground. Read-only on project files; writing pins and locks is gxc.pinning's.
"""
