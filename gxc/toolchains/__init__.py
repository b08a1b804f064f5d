"""Installed toolchains: the install transaction and receipts (`store`), the content-addressed object
store and safe extraction, flavors and source builds with their shared build cache, shims, each
version's isolated work directory, installs on demand, and what `gxc cache` lists and prunes.

May import: gxc.ground, gxc.project, gxc.sources, gxc.ports.
"""
