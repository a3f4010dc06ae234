"""One benchmark run as a picture: a bar chart per database x workload, written as SVG by hand.

Each bar is a contender's median req/s over the run's rounds, as a ratio of the best plain
FastAPI route of the same run and panel (``fastapi-raw``; the floor, or the fastest contender,
when it was not measured), with a dashed line at 1x. Rows are databases, columns workloads;
the contenders keep the run's order, so a row reads across like the tables in docs/benchmarks.md.
"""

# ruff: noqa: RUF001  (the multiplication sign is the typography of the ratios, as in bench/report.py)

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .contenders import BEST_PLAIN, FLOOR, ORMGATE
from .contenders import WORKLOADS as SERVED

DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
WORKLOADS = {
    "get": "GET by id",
    "list20": "list 20",
    "list100": "list 100",
    "include100": "100 posts + author",
    "post": "POST",
    "patch": "PATCH",
    "get-scoped": "GET by id, scoped",
    "list100-scoped": "list 100, scoped",
}
REFERENCES = (FLOOR, BEST_PLAIN, "fastapi-typed")
COLOURS = {"ormgate": "#2b6cb0", "reference": "#718096", "other": "#dd6b20"}

LABELS_W = 150  # the contender names, once per row
PANEL_W = 200
BAR_H = 14
GAP = 4
TITLE_H = 34
MARGIN = 12
VALUE_W = 44  # room for "1.23x" after the longest bar
HALO = {"stroke": "white", "stroke_width": "3", "paint_order": "stroke"}  # a value stays legible over the 1x line


def medians(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """(database, workload) -> contender -> median req/s over the run's rounds."""
    rps: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in data["runs"]:
        rps[(run["database"], run["workload"])][run["contender"]].append(run["rps"])
    return {panel: {name: statistics.median(v) for name, v in by.items()} for panel, by in rps.items()}


def _colour(contender: str) -> str:
    if contender in ORMGATE:
        return COLOURS["ormgate"]
    return COLOURS["reference" if contender in REFERENCES else "other"]


def _baseline(rps: dict[str, float]) -> str:
    # A reference that served nothing (a run too short for a slow page) cannot be one.
    return next((name for name in (BEST_PLAIN, FLOOR) if rps.get(name)), max(rps, key=rps.__getitem__))


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def _panel(x: float, y: float, database: str, workload: str, rps: dict[str, float], order: list[str]) -> list[str]:
    base = _baseline(rps)
    ratios = {name: value / rps[base] if rps[base] else 0.0 for name, value in rps.items()}
    scale = (PANEL_W - VALUE_W) / max(1.0, *ratios.values())
    title = f"{DATABASES.get(database, database)} — {WORKLOADS.get(workload, workload)}"
    parts = [
        _text(x, y + 14, title, font_weight="bold"),
        _text(x, y + 27, f"× {base}", fill="#4a5568", font_size="10"),
    ]
    top = y + TITLE_H
    one = x + scale
    bottom = top + len(order) * (BAR_H + GAP)
    parts.append(  # behind the bars and their values
        f'<line x1="{one:.1f}" y1="{top - 2:.1f}" x2="{one:.1f}" y2="{bottom:.1f}" '
        'stroke="#1a202c" stroke-dasharray="3,3"/>'
    )
    for i, name in enumerate(order):
        bar_y = top + i * (BAR_H + GAP)
        if name not in ratios:
            why = "not measured"
            if workload in SERVED and not SERVED[workload].serves(name):
                why = "ormgate only" if SERVED[workload].twin else "no such route"  # scoped: ormgate's alone
            parts.append(_text(x + 2, bar_y + BAR_H - 3, why, fill="#a0aec0", font_size="10"))
            continue
        width = ratios[name] * scale
        parts.append(
            f'<rect class="bar" data-panel="{database} {workload}" data-contender="{escape(name)}" '
            f'x="{x:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="{BAR_H}" fill="{_colour(name)}">'
            f"<title>{escape(name)}: {rps[name]:,.0f} req/s, {ratios[name]:.2f}× {base}</title></rect>"
        )
        value = f"{ratios[name]:.2f}×"
        parts.append(_text(x + width + 3, bar_y + BAR_H - 3, value, font_size="10", **HALO))
    return parts


def draw(data: dict[str, Any]) -> str:
    """The SVG of one throughput run (a bench/results/*.json document)."""
    panels = medians(data)
    order = [c for c in data["contenders"] if any(c in rps for rps in panels.values())]
    databases = [d for d in data["databases"] if any((d, w) in panels for w in data["workloads"])]
    workloads = [w for w in data["workloads"] if any((d, w) in panels for d in databases)]
    row_h = TITLE_H + len(order) * (BAR_H + GAP) + MARGIN
    width = MARGIN + LABELS_W + len(workloads) * (PANEL_W + MARGIN)
    height = 40 + len(databases) * row_h + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        _text(MARGIN, 22, f"Run {data['id']}: req/s as a ratio of the best plain FastAPI route", font_size="14"),
    ]
    for row, database in enumerate(databases):
        y = 40 + row * row_h
        for i, name in enumerate(order):
            label_y = y + TITLE_H + i * (BAR_H + GAP) + BAR_H - 3
            parts.append(_text(MARGIN + LABELS_W - 8, label_y, name, text_anchor="end", fill=_colour(name)))
        for column, workload in enumerate(workloads):
            if (database, workload) in panels:
                x = MARGIN + LABELS_W + column * (PANEL_W + MARGIN)
                parts += _panel(x, y, database, workload, panels[(database, workload)], order)
    legend_y = height - 10
    legend = (("ormgate", "ormgate"), ("reference", "raw FastAPI / Starlette routes"), ("other", "the alternatives"))
    x = MARGIN
    for key, label in legend:
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{COLOURS[key]}"/>')
        parts.append(_text(x + 14, legend_y, label))
        x += 28 + 6 * len(label)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write(results_file: Path) -> Path:
    """Draw ``<run>.json`` as ``<run>.svg`` beside it; returns the SVG's path."""
    svg = results_file.with_suffix(".svg")
    svg.write_text(draw(json.loads(results_file.read_text())))
    return svg
