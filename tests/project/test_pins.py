"""The fast pin reader against tomllib, and version parsing against Go's rules (property-based)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gxc.ground import fasttoml
from gxc.ground.errors import GxcError, PinFileError
from gxc.ground.versions import Version, VersionSpec
from gxc.project import pins

TESTS = Path(__file__).parents[1]


def _text_of(node: ast.AST) -> str | None:
    """A whole string literal: a constant, or an f-string with each placeholder read as a version."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "1.21.13" for v in node.values)
    return None


def pin_texts_in_suite() -> list[str]:
    """Every whole TOML document the test suite writes as a pin file, from the tests' own source.

    The pieces inside an f-string are not documents: only whole literals count, and only those that
    are TOML at all.
    """
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        inside_fstring = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            text = None if id(node) in inside_fstring else _text_of(node)
            if text and "\n" in text and text.lstrip().startswith(("[toolchain]", "[env]", "[platforms", "#")):
                try:
                    if tomllib.loads(text):
                        found.append(text)
                except tomllib.TOMLDecodeError:
                    continue
    return found


PLAIN_SCALARS = ("true", "false")


def outside_fast_subset(text: str) -> bool:
    """Whether a document uses TOML that the fast reader documents it leaves to tomllib."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            return True
        if line.startswith("["):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        dotted = "." in key and not key.strip().startswith(("'", '"'))
        if dotted or value.startswith(("{", '"""', "'''")) or "\\" in value:
            return True
        if value.startswith("[") and ("]" not in value or value[1:].lstrip().startswith(("[", "{"))):
            return True
        word = value.split("#", 1)[0].strip()
        if value and value[0] not in "\"'[" and word not in PLAIN_SCALARS and not word.isdigit():
            return True
    return False


SAMPLES = [
    '[toolchain]\ngo = "1.21.13"\n',
    '# top\n[toolchain]\ngo = "1.22"  # newest 1.22.x\ntargets = ["wasm", "riscv64-unknown-elf"]\n\n[env]\nCGO_ENABLED = "0"\n',
    "[toolchain]\ngo = '1.22.10'\ntargets = []\n[source]\nmirror = \"http://127.0.0.1:8000\"\n",
    '[lock]\n"go1.22.10.linux-amd64.tar.gz" = "' + "a" * 64 + '"\n',
    '[platforms.my-board]\ninherits = ["riscv64-unknown-elf"]\n[platforms.my-board.build]\ntags = ["board"]\n',
    '[toolchain]\ngo = "1.21.13"\n[env]\nA = "x # not a comment"\nB = true\nC = 3\n',
]
ESCAPED = ['[env]\nA = "tab\\there"\n', '[env]\nA = """multi\nline"""\n', "[env]\nA = { x = 1 }\n",
           "[[platforms]]\nname = 'x'\n", 'a.b = "dotted"\n', '[env]\nA = ["x",\n "y"]\n']


def test_the_suite_writes_pin_files_and_the_collector_sees_whole_ones() -> None:
    texts = pin_texts_in_suite()
    assert len(texts) >= 8
    assert all(tomllib.loads(t) for t in texts)


@pytest.mark.parametrize("text", SAMPLES + pin_texts_in_suite())
def test_fast_reader_agrees_with_tomllib(text: str) -> None:
    """Inside the subset the fast reader must answer, and answer as tomllib does; outside it must defer."""
    fast = fasttoml.loads(text)
    if outside_fast_subset(text):
        assert fast is None
    else:
        assert fast == tomllib.loads(text)


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_reader_handles_the_common_forms_itself(text: str) -> None:
    assert fasttoml.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", ESCAPED)
def test_fast_reader_defers_what_it_cannot_be_sure_of(text: str) -> None:
    assert fasttoml.loads(text) is None
    tomllib.loads(text)


# Documents inside the fast reader's subset: tables of bare keys with plain strings, booleans, integers
# and one-line string arrays, with comments.
_bare = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=12)
_plain = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="\"'\\"),
                 max_size=20)
_string = st.builds(lambda s, q: f"{q}{s}{q}", _plain, st.sampled_from(['"', "'"]))
_scalar = st.one_of(_string, st.sampled_from(["true", "false"]), st.integers(0, 10**9).map(str))
_value = st.one_of(_scalar, st.lists(_string, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"))
_comment = st.sampled_from(["", "  # why", " #", "\t# note = x"])
Table = tuple[list[str], dict[str, tuple[str, str]]]
_table = st.tuples(st.lists(_bare, min_size=1, max_size=2),
                   st.dictionaries(_bare, st.tuples(_value, _comment), max_size=5))


def _render(tables: list[Table]) -> str:
    lines = []
    for path, entries in tables:
        lines.append("[" + ".".join(path) + "]")
        lines += [f"{key} = {value}{comment}" for key, (value, comment) in entries.items()]
    return "\n".join(lines) + "\n"


@given(st.lists(_table, max_size=4, unique_by=lambda t: tuple(t[0])))
def test_fast_reader_answers_every_document_inside_its_subset(tables: list[Table]) -> None:
    text = _render(tables)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # [a] with key b, then [a.b]: not TOML at all, and the fast reader must see it
        assert fasttoml.loads(text) is None
        return
    assert fasttoml.loads(text) == expected


_outside = st.sampled_from(['A = "tab\\there"', "A = { x = 1 }", 'A = """x"""', "a.b = 1", "A = 1.5", "A = -1",
                            "A = 1979-05-27", 'A = ["x",', "A = [1, 2]", "A = 0x10", "[[arr]]"])


@given(st.lists(_table, max_size=3, unique_by=lambda t: tuple(t[0])), _outside)
def test_fast_reader_defers_every_document_outside_its_subset(tables: list[Table], construct: str) -> None:
    assert fasttoml.loads(_render(tables) + construct + "\n") is None


# Characters Python's str.splitlines or str.strip treat as a break or blank where TOML does not, and
# anything else outside printable ASCII: the fast reader must leave the whole document to tomllib.
_foreign = st.one_of(st.sampled_from(["\x85", "\u2028", "\u2029", "\x0c", "\x0b", "\r", "\x1c", "\xa0"]),
                     st.characters(min_codepoint=0x80, max_codepoint=0xD7FF))


@given(st.lists(_table, min_size=1, max_size=3, unique_by=lambda t: tuple(t[0])), _foreign, st.data())
def test_fast_reader_defers_every_document_with_a_foreign_character(tables: list[Table], char: str,
                                                                     data: st.DataObject) -> None:
    text = _render(tables)
    at = data.draw(st.integers(0, len(text)))
    assert fasttoml.loads(text[:at] + char + text[at:]) is None


@given(st.text(max_size=120))
def test_pin_file_parsing_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    for name, reader in (("toolchains.toml", pins.read_project), (".go-version", pins.read_go_version),
                         (".tool-versions", pins.read_tool_versions), ("go.mod", pins.read_go_mod)):
        path = root / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass") if text.isprintable() else path.write_bytes(
            text.encode("utf-8", "replace"))
        try:
            reader(str(path))
        except PinFileError as e:
            assert e.line >= 1 and e.col >= 1
            assert e.message.startswith(str(path) + ":")


# Version ordering as Go defines it (go/version, cmd/go/internal/gover): beta < rc < release.
ORDERED = ["1.20", "1.20.1", "1.21rc1", "1.21rc2", "1.21.0", "1.21.1", "1.21.10", "1.22beta1", "1.22rc1", "1.22.0"]


def test_patch_level_prereleases_are_refused_as_go_never_publishes_them() -> None:
    with pytest.raises(GxcError):
        Version.parse("1.21.3rc1")


def test_go_versions_order_as_go_orders_them() -> None:
    parsed = [Version.parse(v) for v in ORDERED]
    shuffled = [parsed[i] for i in (5, 0, 9, 2, 7, 1, 8, 3, 6, 4)]
    assert sorted(shuffled) == parsed
    assert Version.parse("1.21") == Version.parse("1.21.0")
    assert str(Version.parse("go1.23rc1")) == "1.23rc1"


versions = st.builds(
    lambda minor, patch, pre, n: f"1.{minor}" + (f"{pre}{n}" if pre else f".{patch}" if patch is not None else ""),
    st.integers(0, 40), st.one_of(st.none(), st.integers(0, 30)), st.sampled_from(["", "rc", "beta"]), st.integers(1, 9))


@given(versions)
def test_version_round_trips(text: str) -> None:
    parsed = Version.parse(text)
    assert str(parsed) == text
    assert Version.parse(f"go{text}") == parsed


@given(versions, versions)
def test_ordering_is_total_and_consistent(a: str, b: str) -> None:
    va, vb = Version.parse(a), Version.parse(b)
    assert (va < vb) + (va > vb) + (va == vb) == 1


@given(st.text(max_size=20))
def test_spec_parsing_either_succeeds_or_raises_gxc_error(text: str) -> None:
    try:
        spec = VersionSpec.parse(text)
    except GxcError as e:
        assert e.exit_code == 2
        return
    assert spec.kind in ("exact", "prefix", "latest")
    assert "/" not in str(spec) and ".." not in str(spec)


def test_prefix_specs_pick_the_newest_stable_match() -> None:
    available = [Version.parse(v) for v in ORDERED]
    assert VersionSpec.parse("1.21").best(available) == Version.parse("1.21.10")
    assert VersionSpec.parse("1.21.x").best(available) == Version.parse("1.21.10")
    assert VersionSpec.parse("latest").best(available) == Version.parse("1.22.0")
    assert VersionSpec.parse("1.22rc1").best(available) == Version.parse("1.22rc1")
    assert VersionSpec.parse("1.19").best(available) is None
