"""gxc: a cross-compilation toolchain manager for Go.

Kept empty on purpose: the shim imports this package on its hot path.
"""

__version__ = "0.1.0"
