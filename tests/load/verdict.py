"""The database against the clients' log: lost and phantom writes, contests, statuses, outages.

- **Lost**: an acknowledged create that is missing (no acknowledged DELETE removed it), a row
  whose value is not the last acknowledged PATCH's (or the create's), an acknowledged DELETE
  whose row is still there.
- **Phantom**: a row or value no client saw acknowledged: a create or PATCH answered with an
  error (a 503 above all: it must mean nothing was written), a row no client sent. A request
  with no answer may have been applied or not: its value is allowed, and counted apart.
- **Contests**: at most one PATCH wins per version; a 412 means another one won (or may have).
- **Statuses**: no 500; a 503 (with ``Retry-After``) only while an outage lasts, from its start
  to the first success after it (and ``SETTLE`` seconds more, for requests already in flight
  then). The recovery time is from the end of the outage (the sessions ended, the server
  accepting connections again) to that first success; a probe reading every 50 ms, which
  never backs off, keeps it from measuring the clients' back-off.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.load.clients import Call, Log, Row

SETTLE = 2.0
# Fewer acknowledged creates, PATCHes, deletes or 412s than this and the run proved little.
ENOUGH = 20
# What each operation may answer; a 500 and a 503 are counted on their own.
EXPECTED = {
    "create": {201},
    "patch": {200, 412},
    "delete": {204},
    "probe": {200, 404},
}  # a probe may read a user its owner just deleted


@dataclass
class Outage:
    kind: str  # "terminate" (every session on the database ended) or "restart" (the server stopped and started)
    start: float  # time.monotonic()
    end: float  # the sessions ended, or the server accepting connections again
    sessions: int = 0  # sessions ended (terminate)
    recovered: float | None = None  # the first 2xx answered after ``end``, to a request sent after ``start``

    def measure(self, calls: list[Call]) -> None:
        done = [c.answered for c in calls if _ok(c) and c.sent >= self.start and c.answered >= self.end]
        self.recovered = min(done, default=None)

    def covers(self, call: Call) -> bool:
        until = math.inf if self.recovered is None else self.recovered + SETTLE
        return call.answered >= self.start and call.sent <= until

    def figures(self, origin: float, calls: list[Call]) -> dict[str, Any]:
        refused = [call.answered for call in calls if call.status == 503 and self.covers(call)]
        return {
            "kind": self.kind,
            "at s": round(self.start - origin, 2),
            "sessions ended": self.sessions,
            "down s": round(self.end - self.start, 2),
            "recovery ms": None if self.recovered is None else round((self.recovered - self.end) * 1000),
            "503": len(refused),
            "last 503 s after end": round(max(refused) - self.end, 2) if refused else None,
        }


def _ok(call: Call) -> bool:
    return call.status is not None and 200 <= call.status < 300


@dataclass
class Verdict:
    origin: float  # the load's start: times are shown from it
    lost: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    contests: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    errors: list[Call] = field(default_factory=list)  # 500s
    refused: list[Call] = field(default_factory=list)  # 503s outside every outage
    unhinted: list[Call] = field(default_factory=list)  # 503s without Retry-After
    unrecovered: list[str] = field(default_factory=list)
    vacuous: list[str] = field(default_factory=list)  # what the run failed to exercise
    figures: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> dict[str, list[str]]:
        """Every problem found, by kind (empty when the run was sound)."""
        found = {
            "lost writes": self.lost,
            "phantom writes": self.phantom,
            "contests": self.contests,
            "unexpected statuses": self.unexpected,
            "500s": [_describe(call, self.origin) for call in self.errors],
            "503s outside an outage": [_describe(call, self.origin) for call in self.refused],
            "503s without Retry-After": [_describe(call, self.origin) for call in self.unhinted],
            "outages not recovered from": self.unrecovered,
            "not exercised": self.vacuous,
        }
        return {kind: lines for kind, lines in found.items() if lines}


def _describe(call: Call, origin: float) -> str:
    sent, answered = call.sent - origin, call.answered - origin
    return f"{call.op} {call.username} {call.value!r} sent at {sent:.2f} s, answered at {answered:.2f} s: {call.detail}"


def _check_row(row: Row, stored: tuple[int, str] | None, verdict: Verdict) -> None:
    name = row.username
    if row.created != "yes":
        # Never acknowledged: it may exist only if its create had no answer.
        if stored is not None and stored[1] not in row.unknown:
            verdict.phantom.append(f"{name}: its create was answered {row.refused}, yet it is stored as {stored}")
        return
    if stored is None:
        if row.deleted == "no" and row.delete_refused:
            refused = row.delete_refused
            verdict.phantom.append(f"{name} (id {row.id}): its DELETE was answered {refused}, yet it is gone")
        elif row.deleted == "no":
            verdict.lost.append(f"{name} (id {row.id}): created (201), never deleted, missing")
        return
    if row.deleted == "yes":
        verdict.lost.append(f"{name} (id {row.id}): deleted (204), still stored as {stored}")
    if stored[0] != row.id:
        verdict.lost.append(f"{name}: created with id {row.id}, stored with id {stored[0]}")
    value, last = stored[1], row.acked[-1]
    if value == last or value in row.unknown:
        return
    if value in row.acked:
        verdict.lost.append(f"{name}: holds {value}, acknowledged before the last acknowledged {last}")
    elif value in row.refused:
        verdict.phantom.append(f"{name}: holds {value}, whose PATCH was answered {row.refused[value]}")
    else:
        verdict.phantom.append(f"{name}: holds {value}, which no client sent")


def judge(log: Log, stored: dict[str, tuple[int, str]], outages: list[Outage]) -> Verdict:
    """Check the database's rows (username -> (id, email)) against ``log``."""
    verdict = Verdict(log.started)
    left = dict(stored)
    for row in log.rows.values():
        _check_row(row, left.pop(row.username, None), verdict)
    verdict.phantom += [f"{name}: stored as {value}, never sent by a client" for name, value in left.items()]

    for contest in log.contests:
        seen = contest.statuses
        if seen.count(200) > 1:
            verdict.contests.append(f"{contest.username}: {seen.count(200)} PATCHes won one version: {seen}")
        elif 412 in seen and 200 not in seen and None not in seen and 500 not in seen:
            verdict.contests.append(f"{contest.username}: refused (412) though no other PATCH won: {seen}")

    for outage in outages:
        outage.measure(log.calls)
        if outage.kind == "terminate" and outage.sessions == 0:
            verdict.vacuous.append(f"the app held no session to end at {outage.start - log.started:.2f} s")
        if outage.recovered is None:
            at = outage.start - log.started
            verdict.unrecovered.append(f"no request succeeded after the {outage.kind} at {at:.2f} s")
    inside = 0  # 500s during an outage
    for call in log.calls:
        if call.status == 500:
            verdict.errors.append(call)
            inside += any(outage.covers(call) for outage in outages)
        elif call.status == 503:
            if not any(outage.covers(call) for outage in outages):
                verdict.refused.append(call)
            if not (call.retry_after or "").isdigit():
                verdict.unhinted.append(call)
        elif call.status is not None and call.status not in EXPECTED[call.op]:
            verdict.unexpected.append(f"{call.status} to {_describe(call, log.started)}")

    writes = [call for call in log.calls if call.op != "probe"]
    statuses = Counter(str(call.status) for call in writes)
    acked = Counter(call.op for call in writes if _ok(call))
    verdict.vacuous += [f"acknowledged {op}s: {acked[op]}" for op in EXPECTED if op != "probe" and acked[op] < ENOUGH]
    verdict.vacuous += [f"conflicts (412): {statuses['412']}"] if statuses["412"] < ENOUGH else []
    verdict.figures = {
        "requests": len(writes),
        "probes": len(log.calls) - len(writes),
        "statuses": dict(sorted(statuses.items())),
        "acknowledged": dict(sorted(acked.items())),
        "contested versions": sum(len(c.statuses) > 1 for c in log.contests),
        "conflicts (412)": statuses["412"],
        "rows checked": len(log.rows),
        "rows stored": len(stored),
        "no answer": sum(call.status is None for call in log.calls),
        "500": len(verdict.errors),
        "500 during an outage": inside,
        "503": sum(call.status == 503 for call in log.calls),
        "outages": [outage.figures(log.started, log.calls) for outage in outages],
    }
    return verdict
