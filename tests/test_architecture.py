"""The layout ARCHITECTURE.md describes, held by the code: domains import only downward, no module
imports another in a cycle, and each domain's `__init__` docstring names exactly what it may import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gxc"
# Bottom to top. Entry points (the shim, the port shim, the activate hook) and the CLI sit on top.
LAYERS = ["ground", "project", "sources", "ports", "toolchains", "pinning", "delivery"]
TOP = {"hookenv": 1, "cli": 2, "complete": 3, "portshim": 3, "shim": 4, "__main__": 5}
ENTRY_POINTS = {"__init__", "__main__", "shim", "portshim", "hookenv", "complete"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """Every gxc module `path` imports, at the top, inside functions or under TYPE_CHECKING alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gxc":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gxc"}
    return found - {module_name(path)}


def domain(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gxc"


def rank(name: str) -> float:
    if name == "gxc":  # the package itself holds only __version__
        return -1
    return LAYERS.index(name) if name in LAYERS else len(LAYERS) + TOP[name]


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports into a higher domain, or sideways into another domain of the same rank."""
    return sorted(f"{m} -> {d}" for m, deps in edges.items() for d in deps
                  if domain(d) != domain(m) and rank(domain(d)) >= rank(domain(m)))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt == "gxc" or nxt not in edges:
                continue
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) for name, path in known.items()}


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    edges = {"gxc.ground.paths": {"gxc.toolchains.store"}, "gxc.toolchains.store": {"gxc.ground.paths"}}
    assert upward(edges) == ["gxc.ground.paths -> gxc.toolchains.store"]
    assert cycles(edges) == [["gxc.ground.paths", "gxc.toolchains.store", "gxc.ground.paths"]]


def test_every_package_module_lives_in_a_known_domain() -> None:
    edges = graph()
    assert {domain(m) for m in edges} - {"gxc"} <= set(LAYERS) | set(TOP)
    loose = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert set(loose) <= ENTRY_POINTS, f"modules directly in gxc/ that belong in a domain: {set(loose) - ENTRY_POINTS}"


def test_no_domain_imports_upward() -> None:
    assert upward(graph()) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_each_domain_says_what_it_owns_and_exactly_what_it_may_import() -> None:
    edges = graph()
    for name in LAYERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text())) or ""
        said = re.search(r"May import: (.+?)\.(?:\s|$)", doc.replace("\n", " "))
        assert said, f"gxc/{name}/__init__.py does not say what it may import"
        allowed = set(re.findall(r"gxc\.(\w+)|\b(ground|project|sources|ports|toolchains|pinning)\b", said.group(1)))
        allowed_names = {a or b for a, b in allowed}
        if "every domain below it" in said.group(1):
            allowed_names |= set(LAYERS[:LAYERS.index(name)])
        used = {domain(d) for m, deps in edges.items() if domain(m) == name for d in deps} - {name, "gxc"}
        assert used <= allowed_names, f"gxc.{name} imports {sorted(used - allowed_names)} beyond its docstring"
        assert allowed_names <= set(LAYERS[:LAYERS.index(name)]), f"gxc.{name} claims a domain above it"


def test_the_tests_mirror_the_domains() -> None:
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(LAYERS) | {"cli"}
    assert folders >= {"project", "sources", "ports", "toolchains", "delivery", "cli"}
