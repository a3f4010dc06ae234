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
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(\s*)```(\w*)")
_SKIP = re.compile(r"^\s*<!-- docs-test skip: (.+?) -->\s*$")
_CODE = re.compile(r"^\s*<!-- docs-test code:\s*$")
_NEW_PROGRAM = re.compile(r"^\s*<!-- docs-test new program -->\s*$")


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
    for chunk in chunks:
        # Padded so that a traceback's line number is the page's.
        code = compile("\n" * (chunk.line - 1) + chunk.source, str(page_path), "exec")
        exec(code, module.__dict__)
    return sum(not chunk.hidden for chunk in chunks)


def _run(page: Page, program: int, tmp_path: Path) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
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


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_python_block_runs(path: Path, tmp_path: Path) -> None:
    page = parse(path)
    blocks = sum(_run(page, n, tmp_path) for n, program in enumerate(page.programs) if program)
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


if __name__ == "__main__":
    blocks = run_program(Path(sys.argv[1]), int(sys.argv[2]))
    print(json.dumps({"blocks": blocks}))
