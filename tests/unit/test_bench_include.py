"""The bench's include100 workload: every contender that has the route answers the same posts and authors.

Each contender runs as the benchmark runs it (bench.server: uvicorn in a process of its own,
real HTTP), on a small seeded database of its own, on SQLite, PostgreSQL and MariaDB; its
answer is compared with the rows computed from the seed (bench/expect.py), as bench.run
does before it measures one.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import chart, expect, report, run, seed, server
from bench.apps import config, scoped
from bench.contenders import CONTENDERS, ORMGATE, WORKLOADS, Workload
from tests.databases import REQUIRED, unavailable

USERS = 300  # 1,500 posts: enough for a page of 100 with repeated authors
INCLUDE = WORKLOADS["include100"]
LIMIT = INCLUDE.limit or 0
POOL_SIZE = 2  # not the bench's 10: beside the suite's other pools, 10 exhausted PostgreSQL's connections
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def _drop(database: str, name: str) -> None:
    if database == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{seed.sqlite_file(name)}{suffix}").unlink(missing_ok=True)
    elif database == "postgresql":
        with seed._pg("postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        conn = seed._mysql(None)
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(
    scope="module",
    params=[pytest.param(d, marks=getattr(pytest.mark, d)) for d in ("sqlite", "postgresql", "mysql")],
)
def seeded(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A database of this module's own, seeded as the bench seeds it, and the contenders' environment."""
    database: str = request.param
    why = unavailable(database)
    if why is not None:
        if REQUIRED:
            pytest.fail(why)
        pytest.skip(why)
    name = f"ormgate_bench_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:6]}"
    assert seed.check(database, name) is None
    try:
        seed.seed(database, name, USERS)
        yield server.app_env(database, name, POOL_SIZE)
    finally:
        _drop(database, name)


@pytest.mark.parametrize("contender", INCLUDE.contenders)
def test_each_contender_answers_the_seeded_posts_with_their_authors(seeded: dict[str, str], contender: str) -> None:
    with server.serve(CONTENDERS[contender].module, seeded) as srv:
        expect.check(srv.url, INCLUDE.name, USERS, LIMIT)  # raises RuntimeError saying what differs
        # A second page: offset is honoured, and the check is not about the first rows only.
        body = expect.fetch(f"{srv.url}/posts?include=author&limit=10&offset=100&sort=id")
        expect.compare_posts(body, expect.expected_posts(USERS, 110)[100:])


def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.mark.parametrize("contender", ORMGATE)
def test_the_scoped_ormgate_apps_read_the_seeded_tenant_and_still_serve_the_posts(
    seeded: dict[str, str], contender: str
) -> None:
    """Started with BENCH_SCOPED=1, as bench.run starts them for get-scoped and list100-scoped."""
    with server.serve(CONTENDERS[contender].module, {**seeded, "BENCH_SCOPED": "1"}, headers=scoped.HEADERS) as srv:
        status, user = _get(f"{srv.url}/users/7", scoped.HEADERS)
        assert status == 200
        assert set(user) == set(config.COLUMNS)  # tenant is not served
        want = next(row for row in seed.rows(USERS) if row[0] == 7)
        assert (user["id"], user["username"], user["age"]) == (want[0], want[1], want[4])
        # The scope is in force: the seeded rows are tenant 1's, and the header is required.
        assert _get(f"{srv.url}/users/7", {"x-tenant": "2"})[0] == 404
        assert _get(f"{srv.url}/users/7", {})[0] == 422
        expect.check(srv.url, INCLUDE.name, USERS, LIMIT)  # the posts' authors: the seeded users


def test_each_contender_is_started_for_what_it_serves_scoped_reads_first_writes_last() -> None:
    args = run.parse_args([a for w in ("patch", "get-scoped", "include100", "get") for a in ("--workload", w)])
    env = {"BENCH_DATABASE": "sqlite"}

    def started(name: str, workloads: list[Workload]) -> list[tuple[str | None, list[str]]]:
        servings = run._servings(CONTENDERS[name], env, workloads)
        assert all(e in (env, {**env, "BENCH_SCOPED": "1"}) for e, _ in servings)
        return [(e.get("BENCH_SCOPED"), [w.name for w in ws]) for e, ws in servings]

    for name in ORMGATE:
        assert started(name, args.workload) == [("1", ["get-scoped"]), (None, ["include100", "get", "patch"])]
    assert started("fastapi-raw", args.workload) == [(None, ["include100", "get", "patch"])]
    assert started("starlette-raw", args.workload) == [(None, ["get", "patch"])]
    assert started("starlette-raw", run.parse_args(["--workload", "include100"]).workload) == []  # not started


def test_contenders_without_the_route_are_not_run_on_it() -> None:
    assert set(INCLUDE.contenders) < set(CONTENDERS)
    assert not INCLUDE.serves("starlette-raw")
    assert not INCLUDE.serves("fastapi-typed")
    assert all(WORKLOADS[w].serves("starlette-raw") for w in ("get", "list20", "list100", "post", "patch"))


def test_the_expected_page_is_the_seed() -> None:
    posts = expect.expected_posts(USERS, LIMIT)
    assert [p["id"] for p in posts] == list(range(1, LIMIT + 1))
    assert all(p["author"]["id"] == p["author_id"] for p in posts)
    authors = {p["author_id"] for p in posts}
    assert 1 < len(authors) < LIMIT  # random authors: many, some repeated
    assert expect.expected_posts(USERS, LIMIT) == posts  # deterministic


def _as_json(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The posts as a contender writes them: times as ISO strings."""
    return [
        {
            **post,
            "created_at": post["created_at"].isoformat(),
            "author": {**post["author"], "created_at": post["author"]["created_at"].isoformat(sep=" ")},
        }
        for post in posts
    ]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda body: body.pop(), "99 posts, expected 100"),
        (lambda body: body.reverse(), "differs"),
        (lambda body: body[3]["author"].update(full_name="Someone Else"), "post #4 (id 4) differs"),
        (lambda body: body[5]["author"].pop("email"), "missing ['email']"),
        (lambda body: body[5].update(author_name="x"), "unexpected ['author_name']"),
        (lambda body: body[7].update(author=None), "expected an object"),
        (lambda body: body[9].update(created_at="2030-01-01T00:00:00Z"), "post #10 (id 10) differs"),
    ],
)
def test_a_body_that_differs_fails_the_check(spoil: Any, message: str) -> None:
    expected = expect.expected_posts(USERS, LIMIT)
    body = _as_json(expected)
    expect.compare_posts({"items": body}, expected)  # as written: agrees, in any list shape
    expect.compare_posts({"data": body}, expected)
    expect.compare_posts(body, expected)
    spoil(body)
    with pytest.raises(AssertionError, match=re.escape(message)):
        expect.compare_posts(body, expected)


def test_the_report_and_chart_show_the_workload_for_its_contenders_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The newest committed run of every contender on list100.
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    data = next(
        d
        for d in reversed(runs)
        if d.get("kind") == "throughput"
        and set(d["contenders"]) == set(CONTENDERS)
        and any(r["workload"] == "list100" for r in d["runs"])
    )
    data["id"], data["command"] = "20990101T000000Z", "python -m bench.run --quick"
    # include100 measured as list100 was, on the contenders that have the route.
    added = [
        {**run, "workload": INCLUDE.name}
        for run in data["runs"]
        if run["workload"] == "list100" and INCLUDE.serves(run["contender"])
    ]
    assert added
    data["runs"] += added
    data["workloads"].append(INCLUDE.name)
    source = tmp_path / f"{data['id']}.json"
    source.write_text(json.dumps(data))
    monkeypatch.setattr(report, "DOCS", tmp_path / "benchmarks.md")
    page = report.write(tmp_path).read_text()
    table = page.split(f"— {INCLUDE.label}")[1].split("\n### ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and ": " in line.split("|")[1]]
    assert {row.split("|")[1].strip().split(":")[0] for row in rows} == {run["contender"] for run in added}
    assert "Not contenders here (no such route): starlette-raw, fastapi-typed." in table
    assert "**skipped**" not in table
    assert "**failed**" not in table
    svg = (tmp_path / f"{data['id']}.svg").read_text()
    assert "100 posts + author" in svg
    assert svg.count("no such route") == len({r["database"] for r in added}) * 2  # per database, the two


def test_a_reference_that_served_nothing_is_not_the_charts_baseline() -> None:
    """A slow page in a short run can end with no request served (MariaDB, 1 s): no division by zero."""
    runs = [
        {"database": "mysql", "workload": INCLUDE.name, "contender": name, "rps": rps}
        for name, rps in (("fastapi-raw", 0.0), ("ormgate-sa-sync", 50.0), ("ninja", 25.0))
    ]
    contenders = [r["contender"] for r in runs]
    data = {"id": "x", "databases": ["mysql"], "workloads": [INCLUDE.name], "contenders": contenders, "runs": runs}
    svg = chart.draw(data)
    times = "\u00d7"  # the chart's multiplication sign
    assert f"{times} ormgate-sa-sync" in svg
    assert f"ninja: 25 req/s, 0.50{times} ormgate-sa-sync" in svg
    assert f"fastapi-raw: 0 req/s, 0.00{times} ormgate-sa-sync" in svg
