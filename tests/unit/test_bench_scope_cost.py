"""bench.scope_cost runs from a fresh checkout: its apps read the file it seeded, and answer.

It once read the bench's own database instead (bench.apps.config is read on import, before
the tool named its file): every request was a 500 ("no such table") on a checkout where
``make bench`` had never run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
