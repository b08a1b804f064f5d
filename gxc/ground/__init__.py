"""The ground every domain stands on: errors and exit codes, directories, versions, the user's own
config and default, TOML reading with line-precise errors, safe writes (`beneath`), the one launcher
of child programs (`launch`), shell quoting, terminal output, and what the activate hook recorded.

May import: the standard library and nothing else of gxc. The shim runs on part of it, so no module
here imports requests, tomlkit or json at import time.
"""
