"""What leaves the machine: builds, runs and tests for ports (the parallel matrix), provenance of
artifacts, signatures, and fleet policy.

May import: every domain below it (ground, project, sources, ports, toolchains, pinning).
"""
