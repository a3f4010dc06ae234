"""An existing Django project (DJANGO_SETTINGS_MODULE) serves its own models through ormgate.

Django's settings are process-wide and the conformance suite configures Django
standalone, so the project's checks (tests/django_project/api_checks.py) run in a
process of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ROOT / "tests" / "django_project" / "api_checks.py"


def test_a_django_projects_own_models_are_served_over_http(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["DJANGO_SETTINGS_MODULE"] = "tests.django_project.settings"
    env["ORMGATE_PROJECT_DATABASE"] = str(tmp_path / "project.sqlite3")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CHECKS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout
