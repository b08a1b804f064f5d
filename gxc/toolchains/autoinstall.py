"""Install on first use when config.toml says `auto_install = true` (off the shim's fast path)."""

from __future__ import annotations

import sys
from typing import Any

from gxc.ground.errors import GxcError, ToolchainNotInstalled
from gxc.project import resolve
from gxc.sources import proofs
from gxc.sources.proofs import Lock


def install_if_configured(selection: resolve.Selection, error: GxcError) -> resolve.Resolved:
    if not isinstance(error, ToolchainNotInstalled):
        raise error
    from gxc.ground import config

    if not config.load().auto_install:
        raise error
    if sys.flags.no_site:  # the shim runs with -S; installing needs requests and filelock from site-packages
        import site

        site.main()
    from gxc.ground.terminal import TerminalReporter
    from gxc.toolchains import shims, store

    spec = resolve.install_spec(selection)
    sys.stderr.write(f"gxc: auto-installing go {spec} ({selection.reason or 'go line'})\n")
    options = store.InstallOptions(locks=project_locks(selection), user_index_url=config.user_sources().index_url)
    store.install(spec, project_config(selection), options, TerminalReporter(quiet=False))
    shims.refresh()
    return resolve.resolve(selection)


def project_locks(selection: resolve.Selection) -> dict[str, Lock]:
    """The project's [lock], each entry knowing whether its file is trusted (gxc.proofs decides what it may do)."""
    if selection.project is None:
        return {}
    return proofs.project_locks(selection.project.path, selection.project_table.get("lock", {}),
                                selection.project.data)


def project_config(selection: resolve.Selection, mirror: str | None = None, goproxy: str | None = None) -> Any:
    """config.load with the trusted project's [source] (untrusted files have none left)."""
    from gxc.ground import config

    project_path = selection.project.path if selection.project else ""
    return config.load(mirror=mirror, project_source=selection.project_table.get("source"),
                       project_path=project_path, goproxy=goproxy)


def install_flavor(flavored: Any, selection: resolve.Selection) -> None:
    """auto_install for a port's flavor: build (or reuse the cached build of) it now, saying so."""
    from gxc.ground import config
    from gxc.ground.terminal import TerminalReporter
    from gxc.toolchains import flavors, sourcebuild, store

    sys.stderr.write(f"gxc: auto-installing {flavored} (a flavor build: make.bash, once per machine)\n")
    recipe = flavors.recipe(flavored, selection.project)
    options = store.InstallOptions(locks=project_locks(selection), user_index_url=config.user_sources().index_url)
    build = sourcebuild.Build(str(flavored), flavored.version, recipe)
    sourcebuild.install_built(build, project_config(selection), options, TerminalReporter(quiet=False))
