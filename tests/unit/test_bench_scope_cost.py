"""bench.scope_cost runs from a fresh checkout: its apps read the file it seeded, and answer.

It once read the bench's own database instead (bench.apps.config is read on import, before
the tool named its file): every request was a 500 ("no such table") on a checkout where
``make bench`` had never run.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.scope_cost import _bench_asks

ROOT = Path(__file__).resolve().parents[2]


def test_scope_cost_measures_every_variant_on_its_own_file() -> None:
    command = [sys.executable, "-m", "bench.scope_cost", "--requests", "20", "--rounds", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = re.findall(
        r"^\s+(get|list100)\s+(unscoped|scoped, ormgate's plan|scoped, FastAPI's solver)\s+[\d.]+", done.stdout, re.M
    )
    assert len(figures) == 6, done.stdout
    assert "(sa-sync, sqlite)" in done.stdout


def test_make_bench_counts_a_scope_only_where_its_arguments_ask_for_a_scoped_read() -> None:
    # A run of no ormgate contender or no scoped workload counts nothing (valgrind is not even asked for).
    for bench_args in (["--workload", "include100"], ["--quick", "--contender", "fastapi-raw"]):
        done = subprocess.run(
            [sys.executable, "-m", "bench.scope_cost", "--instructions", "--bench-args", *bench_args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "nothing counted" in done.stdout


def test_bench_arguments_choose_the_databases_and_adapters_counted() -> None:
    def asked(*bench_args: str) -> tuple[bool, Any, Any]:
        args = argparse.Namespace(adapter=None, database=None)
        return _bench_asks(args, list(bench_args)), args.adapter, args.database

    assert asked() == (True, None, None)  # then every adapter, on SQLite
    assert asked("--quick", "--database", "postgresql") == (True, None, ["postgresql"])
    assert asked("--workload", "get-scoped", "--contender", "ormgate-django", "--contender", "fastcrud") == (
        True,
        ["django"],
        None,
    )
    assert asked("--workload", "get", "--workload", "list100")[0] is False
