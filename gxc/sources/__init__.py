"""Where toolchains come from and what proves them: the release index, bounded HTTP, resumable
downloads, module proxies, the checksum database, the proofs an install relies on (your index or
checksum database first; a project's [lock] only adds conditions), and mirror sync for offline fleets.

May import: gxc.ground, gxc.project (a lock's trust). Nothing here installs anything.
"""
