"""A lean, conventional install: the wheel, installed without extras into a fresh virtualenv.

It installs one top-level package, ``ormgate`` (the demo is ``ormgate.demo``), and
importing ormgate and building a resource needs only FastAPI, Pydantic and orjson.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A resource on an adapter of the script's own: no ORM is installed.
SCRIPT = textwrap.dedent(
    """
    import importlib.metadata, importlib.util, json
    from fastapi import FastAPI
    import ormgate
    from ormgate.model import FieldInfo, ModelInfo

    class Adapter:
        def describe(self, model):
            return ModelInfo(name="Note", table="notes", fields=(
                FieldInfo(name="id", python_type=int, primary_key=True),
                FieldInfo(name="text", python_type=str, max_length=50),
            ))

        def store(self, model, fields):
            return object()  # never called: no request is sent

        async def create_tables(self, models):
            pass

    app = FastAPI()
    resource = ormgate.Resource(object, Adapter())
    resource.install(app)
    paths = sorted(app.openapi()["paths"])
    installed = sorted({d.metadata["Name"].lower() for d in importlib.metadata.distributions()})
    top_level = importlib.metadata.distribution("ormgate").read_text("top_level.txt")
    print(json.dumps({
        "path": resource.path,
        "paths": paths,
        "installed": installed,
        "top_level": top_level.split(),
        "absent": [m for m in ("typer", "rich", "uvicorn", "fastapi_offline", "email_validator", "pwdlib",
                               "sqlalchemy", "django", "peewee", "examples") if importlib.util.find_spec(m) is None],
    }))
    """
)


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_installs_ormgate_alone_and_imports_with_fastapi_pydantic_orjson(tmp_path: Path) -> None:
    import json

    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("ormgate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        roots = {name.split("/")[0] for name in archive.namelist()}
    assert {root for root in roots if not root.endswith(".dist-info")} == {"ormgate"}, roots
    assert any(name.startswith("ormgate/demo/") for name in zipfile.ZipFile(wheel).namelist())

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", wheel)
    found = json.loads(_run(python, "-c", SCRIPT, cwd=tmp_path))
    assert found["top_level"] == ["ormgate"], found
    assert found["path"] == "/notes"
    assert found["paths"] == ["/notes", "/notes/{id}"], found
    # Nothing of the command line, the demo or the ORMs came along; no top-level "examples".
    assert len(found["absent"]) == 10, found
    extra = set(found["installed"]) - {"ormgate", "pip", "setuptools"}
    assert {"fastapi", "pydantic", "orjson"} <= extra, extra
    for name in ("typer", "rich", "uvicorn", "fastapi-offline", "email-validator", "pwdlib", "sqlalchemy"):
        assert name not in extra, (name, extra)
