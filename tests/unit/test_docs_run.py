"""Every Python block of README.md and docs/*.md runs, so that a renamed function breaks a test, not a reader.

A page's blocks run in order in one namespace, in a fresh interpreter (Django's
settings, Peewee's bindings and SQLModel's metadata are per process), in a
temporary directory (a ``sqlite:///app.sqlite3`` there is a new file). A
traceback names the page and the line in it.

Markers are HTML comments, which readers of the rendered page do not see:

- ``<!-- docs-test skip: why -->`` before a block: it is not run. Skips are
  counted and listed by ``test_blocks_not_run_are_few_and_listed``.
- ``<!-- docs-test code:`` then Python lines, then ``-->``: hidden code run where
  it stands, in the page's namespace: the names a fragment takes as given (a
  model, an ``app``), or checks of what a block built (its routes answer).
- ``<!-- docs-test new program -->``: the blocks after it run in another
  interpreter (a page showing two ways to start one process-wide setting).
- ``<!-- docs-test databases: postgresql mysql -->``: the page runs again on each
  of these servers (with the suite's markers), each SQLite file it names
  (``sqlite:///shop.sqlite3``, ``sqlite+aiosqlite:///...``) a fresh database there,
  through the driver of the same kind (psycopg or asyncpg, PyMySQL or aiomysql).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.sa_pairs import fresh_database
from tests.databases import Pair

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(\s*)```(\w*)")
_SKIP = re.compile(r"^\s*<!-- docs-test skip: (.+?) -->\s*$")
_CODE = re.compile(r"^\s*<!-- docs-test code:\s*$")
_NEW_PROGRAM = re.compile(r"^\s*<!-- docs-test new program -->\s*$")
_DATABASES = re.compile(r"^\s*<!-- docs-test databases: ([\w ]+?) -->\s*$")
# A SQLite file a page names, and the scheme standing in for each SQLite one on a server.
_SQLITE_URL = re.compile(r"(sqlite(?:\+aiosqlite)?):///([\w.-]+\.sqlite3)")
_SCHEMES = {
    "postgresql": {"sqlite": "postgresql+psycopg", "sqlite+aiosqlite": "postgresql+asyncpg"},
    "mysql": {"sqlite": "mysql+pymysql", "sqlite+aiosqlite": "mysql+aiomysql"},
}


@dataclass(frozen=True)
class Chunk:
    line: int  # of the code's first line in the page, 1-based
    source: str
    hidden: bool


@dataclass
class Page:
    path: Path
    programs: list[list[Chunk]] = field(default_factory=lambda: [[]])
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    databases: list[str] = field(default_factory=list)  # servers the page runs on besides SQLite

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))


def _dedent(lines: list[str], indent: str) -> str:
    return "\n".join(line.removeprefix(indent) for line in lines)


def parse(path: Path) -> Page:
    """The page's programs: its Python blocks and hidden code, in order; and the blocks marked not to run."""
    page = Page(path)
    lines = path.read_text().splitlines()
    skip: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if (match := _SKIP.match(line)) is not None:
            skip = match.group(1)
        elif _NEW_PROGRAM.match(line):
            page.programs.append([])
        elif (match := _DATABASES.match(line)) is not None:
            page.databases = match.group(1).split()
        elif _CODE.match(line):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "-->")
            page.programs[-1].append(Chunk(i + 2, "\n".join(lines[i + 1 : end]), hidden=True))
            i = end
        elif (fence := _FENCE.match(line)) is not None:
            indent, language = fence.groups()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            if language == "python":
                if skip is not None:
                    page.skipped.append((i + 1, skip))
                else:
                    page.programs[-1].append(Chunk(i + 2, _dedent(lines[i + 1 : end], indent), hidden=False))
            elif skip is not None:
                raise ValueError(f"{path}:{i + 1}: a skip marker before a {language or 'plain'} block")
            skip = None
            i = end
        i += 1
    if skip is not None:
        raise ValueError(f"{path}: a skip marker with no block after it")
    return page


def run_program(page_path: Path, program: int) -> int:
    """Run one program of a page in this interpreter; how many of its chunks are the page's own blocks."""
    page = parse(page_path)
    module = types.ModuleType("docs_page")
    module.__file__ = str(page_path)
    sys.modules[module.__name__] = module
    chunks = page.programs[program]
    # On a server: each SQLite file the page names -> (the server's schemes, that file's database).
    servers: dict[str, Any] = json.loads(os.environ.get("ORMGATE_DOCS_SERVERS", "{}"))

    def on_server(match: re.Match[str]) -> str:
        schemes, address = servers[match.group(2)]
        return f"{schemes[match.group(1)]}://{address}"

    for chunk in chunks:
        source = _SQLITE_URL.sub(on_server, chunk.source) if servers else chunk.source
        # Padded so that a traceback's line number is the page's.
        code = compile("\n" * (chunk.line - 1) + source, str(page_path), "exec")
        exec(code, module.__dict__)
    return sum(not chunk.hidden for chunk in chunks)


def _run(page: Page, program: int, tmp_path: Path, servers: dict[str, Any]) -> int:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "ORMGATE_DOCS_SERVERS": json.dumps(servers),
    }
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.unit.test_docs_run", str(page.path), str(program)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{page.name}, program {program}:\n{result.stdout}\n{result.stderr}"
    return int(json.loads(result.stdout.splitlines()[-1])["blocks"])


def _page_params() -> list[Any]:
    params = []
    for path in PAGES:
        name = str(path.relative_to(ROOT))
        params.append(pytest.param(path, "sqlite", id=name, marks=pytest.mark.sqlite))
        for database in parse(path).databases:
            params.append(pytest.param(path, database, id=f"{name}-{database}", marks=getattr(pytest.mark, database)))
    return params


@pytest.mark.parametrize(("path", "database"), _page_params())
def test_every_python_block_runs(path: Path, database: str, tmp_path: Path) -> None:
    page = parse(path)
    with contextlib.ExitStack() as stack:
        servers: dict[str, Any] = {}
        if database != "sqlite":
            files = {m.group(2) for p in page.programs for c in p for m in _SQLITE_URL.finditer(c.source)}
            for file in sorted(files):
                db = stack.enter_context(fresh_database(Pair("docs", database, database), tmp_path, "docs"))
                address = db.url("x").removeprefix("x://")
                servers[file] = (_SCHEMES[database], address)
        blocks = sum(_run(page, n, tmp_path, servers) for n, program in enumerate(page.programs) if program)
    assert blocks == sum(not chunk.hidden for program in page.programs for chunk in program)


# Blocks that are shown and not run, (page, the reason its marker gives). Keep it short:
# a block that can run should, with hidden code giving it what it takes as given.
NOT_RUN: set[tuple[str, str]] = set()


def test_blocks_not_run_are_few_and_listed() -> None:
    skipped = {(page.name, why) for page in map(parse, PAGES) for _, why in page.skipped}
    assert skipped == NOT_RUN
    total = sum(not chunk.hidden for page in map(parse, PAGES) for program in page.programs for chunk in program)
    print(f"{total} Python blocks run, {len(skipped)} not run: {sorted(skipped)}")


def test_the_parser_sees_markers_and_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n<!-- docs-test code:\nassert a == 1\n-->\n"
        "```console\n$ curl x\n```\n<!-- docs-test skip: a fragment -->\n```python\nb = \n```\n"
        "<!-- docs-test new program -->\n- item\n  ```python\n  c = 2\n  ```\n"
    )
    parsed = parse(page)
    assert [[(c.line, c.source, c.hidden) for c in p] for p in parsed.programs] == [
        [(3, "a = 1", False), (6, "assert a == 1", True)],
        [(18, "c = 2", False)],
    ]
    assert parsed.skipped == [(12, "a fragment")]
    assert parsed.databases == []
    page.write_text("<!-- docs-test databases: postgresql mysql -->\n```python\nurl = 'sqlite:///a.sqlite3'\n```\n")
    assert parse(page).databases == ["postgresql", "mysql"]
    assert _SQLITE_URL.findall("'sqlite:///a.sqlite3', 'sqlite+aiosqlite:///b-c.sqlite3'") == [
        ("sqlite", "a.sqlite3"),
        ("sqlite+aiosqlite", "b-c.sqlite3"),
    ]


if __name__ == "__main__":
    blocks = run_program(Path(sys.argv[1]), int(sys.argv[2]))
    print(json.dumps({"blocks": blocks}))
