"""Install on first use when config.toml says `auto_install = true` (off the shim's fast path)."""

from __future__ import annotations

import sys

from gxc import resolve
from gxc.errors import GxcError, ToolchainNotInstalled
from gxc.store import Lock


def install_if_configured(selection: resolve.Selection, error: GxcError) -> resolve.Resolved:
    if not isinstance(error, ToolchainNotInstalled):
        raise error
    from gxc import config

    if not config.load().auto_install:
        raise error
    if sys.flags.no_site:  # the shim runs with -S; installing needs requests and filelock from site-packages
        import site

        site.main()
    from gxc import shims, store
    from gxc.cli.output import TerminalReporter

    spec = resolve.install_spec(selection)
    sys.stderr.write(f"gxc: auto-installing go {spec} ({selection.reason or 'go line'})\n")
    cfg = config.load(project_source=selection.project_table.get("source"))
    store.install(spec, cfg, store.InstallOptions(locks=project_locks(selection)), TerminalReporter(quiet=False))
    shims.refresh()
    return resolve.resolve(selection)


def project_locks(selection: resolve.Selection) -> dict[str, Lock]:
    lock_path = selection.project.path if selection.project else ""
    return {name: Lock(str(sha), lock_path) for name, sha in selection.project_table.get("lock", {}).items()}
