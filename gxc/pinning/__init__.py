"""Writing what a project pins: `gxc pin` and its [lock] entries (release archives, module zips, a
flavor's source, patches and fork commit), and keeping pins current (`gxc outdated`, `gxc upgrade`).

May import: gxc.ground, gxc.project, gxc.sources, gxc.ports, gxc.toolchains. Writes only with tomlkit,
keeping the user's comments and layout.
"""
