"""The load test's judge finds what it is meant to find: each kind of loss and phantom, on a made-up log."""

from __future__ import annotations

import pytest

from tests.load.clients import Call, Contest, Log, Row
from tests.load.verdict import ENOUGH, SETTLE, Outage, judge

pytestmark = pytest.mark.load


def _row(log: Log, name: str, **fields: object) -> Row:
    row = Row(name, **fields)  # type: ignore[arg-type]
    log.rows[name] = row
    return row


def _call(log: Log, status: int | None, sent: float, retry_after: str | None = "1") -> Call:
    call = Call("create", "someone", "", log.started + sent, log.started + sent + 0.1, status, "", retry_after)
    log.calls.append(call)
    return call


def test_a_sound_log_passes() -> None:
    log = Log()
    _row(log, "kept", id=1, created="yes", acked=["a0", "a1"], refused={"a2": 412})
    _row(log, "gone", id=2, created="yes", deleted="yes", acked=["b0"])
    _row(log, "maybe", created="unknown", unknown={"c0"})  # no answer: either way
    _row(log, "maybe not", created="unknown", unknown={"d0"})
    _row(log, "refused", refused={"e0": 503})
    _row(log, "patched, maybe", id=6, created="yes", acked=["f0"], unknown={"f1"})
    log.contests.append(Contest("kept", [200, 412, 412]))
    _call(log, 201, 0.0)
    verdict = judge(log, {"kept": (1, "a1"), "maybe": (3, "c0"), "patched, maybe": (6, "f1")}, [])
    assert verdict.figures["acknowledged"] == {"create": 1}
    # Sound, but too small a run to prove anything.
    assert verdict.problems() == {"not exercised": verdict.vacuous}
    assert len(verdict.vacuous) == 4
    for op, status in (("create", 201), ("patch", 200), ("delete", 204), ("patch", 412)):
        log.calls += [Call(op, "x", "", log.started, log.started, status)] * ENOUGH
    assert judge(log, {"kept": (1, "a1"), "maybe": (3, "c0"), "patched, maybe": (6, "f1")}, []).problems() == {}


def test_every_loss_and_phantom_is_found() -> None:
    log = Log()
    _row(log, "missing", id=1, created="yes", acked=["a0"])
    _row(log, "undeleted", id=2, created="yes", deleted="yes", acked=["b0"])
    _row(log, "stale", id=3, created="yes", acked=["c0", "c1"])
    _row(log, "refused create", refused={"d0": 503})
    _row(log, "refused patch", id=5, created="yes", acked=["e0"], refused={"e1": 412})
    _row(log, "refused delete", id=6, created="yes", acked=["f0"], delete_refused=503)
    stored = {
        "undeleted": (2, "b0"),
        "stale": (3, "c0"),
        "refused create": (4, "d0"),
        "refused patch": (5, "e1"),
        "stranger": (7, "g0"),
    }
    verdict = judge(log, stored, [])
    assert [line.split(":")[0] for line in verdict.lost] == ["missing (id 1)", "undeleted (id 2)", "stale"]
    assert [line.split(":")[0] for line in verdict.phantom] == [
        "refused create",
        "refused patch",
        "refused delete (id 6)",
        "stranger",
    ]


def test_two_winners_and_a_412_without_one_are_found() -> None:
    log = Log()
    log.contests += [Contest("a", [200, 200]), Contest("b", [412, 503]), Contest("c", [412, None]), Contest("d", [503])]
    assert len(judge(log, {}, []).contests) == 2


def test_a_503_counts_only_during_an_outage_with_retry_after_and_a_500_always() -> None:
    log = Log()
    outage = Outage("restart", log.started + 5.0, log.started + 7.0)
    _call(log, 503, 6.0)  # during
    _call(log, 201, 8.0)  # the first success after it: recovered
    _call(log, 503, 8.0 + SETTLE - 0.5)  # sent while the last requests of the outage settle
    outside = _call(log, 503, 8.1 + SETTLE + 0.5)
    error = _call(log, 500, 1.0)
    unhinted = _call(log, 503, 6.5, retry_after=None)
    verdict = judge(log, {}, [outage])
    assert verdict.refused == [outside]
    assert verdict.errors == [error]
    assert verdict.unhinted == [unhinted]
    assert verdict.figures["outages"][0]["recovery ms"] == 1100
    empty = judge(Log(), {}, [Outage("terminate", 0.0, 0.0)])
    assert empty.unrecovered != []
    assert "the app held no session to end" in empty.vacuous[0]
