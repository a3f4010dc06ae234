"""Who runs and what they run: the contenders, the workloads, and the targets of issue 5."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    name: str
    module: str  # bench.apps.<module>:app
    label: str


CONTENDERS = {
    c.name: c
    for c in (
        Contender("starlette-raw", "starlette_raw", "Starlette + raw driver + orjson (the floor)"),
        Contender("fastapi-raw", "fastapi_raw", "FastAPI route taking `Request`, raw driver, bytes"),
        Contender("fastapi-typed", "fastapi_typed", "FastAPI + raw driver, typed params, Pydantic response"),
        Contender("tutorial-sa-sync", "tutorial_sa_sync", "tutorial: SQLAlchemy ORM, `def`, `Depends(get_db)`"),
        Contender("tutorial-sa-async", "tutorial_sa_async", "tutorial: async SQLAlchemy `AsyncSession`"),
        Contender("fastcrud", "fastcrud_app", "FastCRUD `crud_router` (async SQLAlchemy)"),
        Contender("ninja", "ninja_app", "tutorial: Django + django-ninja `ModelSchema`"),
        Contender("tutorial-peewee", "tutorial_peewee", "tutorial: Peewee + `playhouse.pydantic_utils`"),
        Contender("ormgate-sa-sync", "ormgate_sa_sync", "ormgate, SQLAlchemy sync"),
        Contender("ormgate-sa-async", "ormgate_sa_async", "ormgate, SQLAlchemy async"),
        Contender("ormgate-django", "ormgate_django", "ormgate, Django ORM"),
        Contender("ormgate-peewee", "ormgate_peewee", "ormgate, Peewee"),
    )
}
FLOOR = "starlette-raw"
BEST_PLAIN = "fastapi-raw"
ORMGATE = ("ormgate-sa-sync", "ormgate-sa-async", "ormgate-django", "ormgate-peewee")
# What ormgate is compared with, column by column.
BASELINES = ("tutorial-sa-sync", "tutorial-sa-async", "fastcrud", "ninja", "tutorial-peewee")
# Each ormgate contender's own hand-written counterpart (same ORM, same sync/async style).
OWN_TUTORIAL = {
    "ormgate-sa-sync": "tutorial-sa-sync",
    "ormgate-sa-async": "tutorial-sa-async",
    "ormgate-django": "ninja",
    "ormgate-peewee": "tutorial-peewee",
}

# Every driver the contenders use, per database.
DRIVERS = {
    "sqlite": "sqlite3 (raw, sync SQLAlchemy, Django, Peewee); aiosqlite (async SQLAlchemy, FastCRUD)",
    "postgresql": "asyncpg (raw, async SQLAlchemy, FastCRUD); psycopg 3 (sync SQLAlchemy, Django, Peewee)",
    "mysql": "aiomysql (raw, async SQLAlchemy, FastCRUD); PyMySQL (sync SQLAlchemy, Django, Peewee)",
}


# The contenders with a `GET /posts` that embeds each post's author (the others have no such route).
INCLUDE_CONTENDERS = (
    "fastapi-raw", "tutorial-sa-sync", "tutorial-sa-async", "fastcrud", "ninja", "tutorial-peewee", *ORMGATE,
)  # fmt: skip


@dataclass(frozen=True)
class Workload:
    name: str
    script: str
    label: str
    write: bool = False
    limit: int | None = None
    # Who serves it; empty: every contender.
    contenders: tuple[str, ...] = ()
    # A scoped read (bench/apps/scoped.py), served by the ormgate contenders only, each started a second
    # time with BENCH_SCOPED=1: the unscoped twin's URL with an x-tenant header. Issue 16: no more than
    # 5% over the twin.
    twin: str | None = None

    def serves(self, contender: str) -> bool:
        return not self.contenders or contender in self.contenders


WORKLOADS = {
    w.name: w
    for w in (
        Workload("get", "get.lua", "GET /users/{id}, random id in 1..10,000"),
        Workload("list20", "list.lua", "GET /users?limit=20&offset=0&age__gte=30&sort=-created_at", limit=20),
        Workload("list100", "list.lua", "GET /users?limit=100&offset=0&age__gte=30&sort=-created_at", limit=100),
        Workload(
            "include100",
            "include.lua",
            "GET /posts?include=author&limit=100&offset=0&sort=id: 100 posts, each with its author",
            limit=100,
            contenders=INCLUDE_CONTENDERS,
        ),
        Workload("post", "post.lua", "POST /users, a unique username and email per request", write=True),
        Workload("patch", "patch.lua", "PATCH /users/{id}, random id, two columns", write=True),
        Workload(
            "get-scoped",
            "get.lua",
            "GET /users/{id} scoped to the x-tenant header's tenant",
            contenders=ORMGATE,
            twin="get",
        ),
        Workload(
            "list100-scoped",
            "list.lua",
            "GET /users?limit=100&offset=0&age__gte=30&sort=-created_at scoped to the x-tenant header's tenant",
            limit=100,
            contenders=ORMGATE,
            twin="list100",
        ),
    )
}
# The unscoped twins of the scoped reads: they send the scoped ones' x-tenant header too, unread.
TWINS = frozenset(w.twin for w in WORKLOADS.values() if w.twin is not None)
# Issue 16: a scoped read costs (server CPU per request) at most this much over its unscoped twin.
SCOPED_OVERHEAD = 0.05


@dataclass(frozen=True)
class Target:
    contender: str
    versus: str
    ratio: float
    workloads: tuple[str, ...]
    note: str = ""


READS = ("get", "list20", "list100")
WRITES = ("post", "patch")
TARGETS = (
    *(Target(c, BEST_PLAIN, 0.9, READS) for c in ("ormgate-sa-sync", "ormgate-sa-async")),
    *(Target(c, OWN_TUTORIAL[c], 5.0, READS) for c in ("ormgate-sa-sync", "ormgate-sa-async")),
    *(Target(c, "fastcrud", 8.0, READS) for c in ("ormgate-sa-sync", "ormgate-sa-async")),
    *(Target(c, FLOOR, 0.7, READS, "stretch") for c in ("ormgate-sa-sync", "ormgate-sa-async")),
    Target("ormgate-django", "ninja", 3.0, READS),
    Target("ormgate-peewee", "tutorial-peewee", 3.0, READS),
    *(Target(c, OWN_TUTORIAL[c], 2.0, WRITES) for c in ORMGATE),
)
