"""bench/chart.py: a results file becomes an SVG with one bar per contender in each database x workload panel."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import chart, report
from bench.contenders import WORKLOADS

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
SVG = "{http://www.w3.org/2000/svg}"


def latest() -> Path:
    return max(p for p in RESULTS.glob("*.json") if json.loads(p.read_text()).get("kind") == "throughput")


def bars(svg: Path) -> list[ET.Element]:
    root = ET.parse(svg).getroot()  # valid XML, or this raises
    assert root.tag == f"{SVG}svg"
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_a_results_file_is_drawn_with_one_bar_per_contender(tmp_path: Path) -> None:
    source = shutil.copy(latest(), tmp_path / latest().name)
    data = json.loads(Path(source).read_text())
    svg = chart.write(Path(source))
    assert svg == tmp_path / latest().with_suffix(".svg").name
    drawn = bars(svg)
    panels = {(run["database"], run["workload"]) for run in data["runs"]}
    measured = {(run["database"], run["workload"], run["contender"]) for run in data["runs"]}
    assert len(drawn) == len(measured)  # one bar per contender and panel, whatever the rounds
    assert len(panels) > 1
    for database, workload in panels:  # this run measured every contender where it has the route
        in_panel = {c for d, w, c in measured if (d, w) == (database, workload)}
        assert in_panel == {c for c in data["contenders"] if WORKLOADS[workload].serves(c)}
    # Each bar is as long as its ratio: the reference (fastapi-raw where it ran) is 1x, the others in proportion.
    for database, workload in panels:
        rps = chart.medians(data)[(database, workload)]
        panel = [b for b in drawn if b.get("data-panel") == f"{database} {workload}"]
        widths = {str(b.get("data-contender")): float(b.get("width") or 0) for b in panel}
        assert set(widths) == set(rps)
        base = "fastapi-raw" if "fastapi-raw" in rps else max(rps, key=rps.__getitem__)
        for name, width in widths.items():
            assert abs(width / widths[base] - rps[name] / rps[base]) < 0.01, name


def test_a_contender_missing_from_a_panel_gets_no_bar(tmp_path: Path) -> None:
    data = json.loads(latest().read_text())
    data["runs"] = [r for r in data["runs"] if not (r["contender"] == "ormgate-django" and r["workload"] == "get")]
    source = tmp_path / "partial.json"
    source.write_text(json.dumps(data))
    measured = {(r["database"], r["workload"], r["contender"]) for r in data["runs"]}
    svg = chart.write(source)
    assert len(bars(svg)) == len(measured)
    assert "not measured" in svg.read_text()


def test_the_committed_chart_of_the_latest_run_is_current_and_shown() -> None:
    svg = latest().with_suffix(".svg")
    assert svg.read_text() == chart.draw(json.loads(latest().read_text()))
    assert f"](../bench/results/{svg.name})" in report.DOCS.read_text()


def test_a_run_limited_to_some_contenders_does_not_replace_a_whole_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = json.loads(latest().read_text())
    whole["id"], whole["command"] = "20990101T000000Z", "python -m bench.run --quick"
    partial = json.loads(latest().read_text())
    partial["id"] = "20990102T000000Z"  # newer, and limited with --contender
    partial["runs"] = [r for r in partial["runs"] if r["contender"] != "ormgate-django"]
    for data in (whole, partial):
        (tmp_path / f"{data['id']}.json").write_text(json.dumps(data))
    monkeypatch.setattr(report, "DOCS", tmp_path / "benchmarks.md")
    page = report.write(tmp_path).read_text()
    tables = page.split("## Results")[1]
    assert "Run `20990101T000000Z`" in tables
    assert "Run `20990102T000000Z`" not in tables
    # Both runs are drawn, and the page shows both charts.
    for data in (whole, partial):
        assert (tmp_path / f"{data['id']}.svg").exists()
        assert f"](../bench/results/{data['id']}.svg)" in page


def test_a_scoped_workload_is_shown_against_its_unscoped_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(latest().read_text())
    data["id"], data["command"] = "20990103T000000Z", "python -m bench.run --quick"
    # Scoped runs made here from the unscoped ones, in place of any the latest run measured.
    data["runs"] = [r for r in data["runs"] if not r["workload"].endswith("-scoped")]
    data["workloads"] = [*(w for w in data["workloads"] if not w.endswith("-scoped")), "get-scoped"]
    twins = [
        r for r in data["runs"] if r["workload"] == "get" and r["contender"] in ("ormgate-sa-sync", "ormgate-peewee")
    ]
    extra = {"ormgate-sa-sync": 1.03, "ormgate-peewee": 1.10}  # CPU per request over the twin's
    for run in twins:
        factor = extra[run["contender"]]
        scoped = {**run, "workload": "get-scoped", "rps": run["rps"] / factor}
        scoped["cpu_us_per_request"] = run["cpu_us_per_request"] * factor
        data["runs"].append(scoped)
    (tmp_path / f"{data['id']}.json").write_text(json.dumps(data))
    monkeypatch.setattr(report, "DOCS", tmp_path / "benchmarks.md")
    page = report.write(tmp_path).read_text()
    table = page.split("GET /users/{id} scoped to the x-tenant header's tenant")[1].split("###")[0]
    assert "fastapi-raw" not in table  # ormgate's alone
    ratios = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ormgate-")}
    assert "| 0.97× |" in ratios["| ormgate-sa-sync"]  # noqa: RUF001  (req/s, scoped over unscoped)
    assert ratios["| ormgate-sa-sync"].endswith("| +3.0% | ✓ ≤ +5% CPU |")
    assert ratios["| ormgate-peewee"].endswith("| +10.0% | ✗ ≤ +5% CPU |")
    assert "| ormgate-django" not in ratios  # not measured scoped
    assert len(bars(chart.write(tmp_path / f"{data['id']}.json"))) == len(
        {(r["database"], r["workload"], r["contender"]) for r in data["runs"]}
    )
