"""What may run on the event loop thread: a test per reason ``_threaded.may_run_inline`` refuses."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from ormgate.adapters._threaded import Operation, Overran, loop_budget, may_run_inline, run_sync


def test_a_get_by_key_in_an_in_process_database_may_run_inline() -> None:
    assert may_run_inline("get", in_process=True)


def test_nothing_on_a_database_server_runs_inline() -> None:
    operations: tuple[Operation, ...] = ("get", "list", "create", "update", "delete")
    assert not any(may_run_inline(operation, in_process=False) for operation in operations)


def test_a_list_may_scan_so_it_runs_inline_only_where_the_store_can_stop_it() -> None:
    assert not may_run_inline("list", in_process=True)
    assert may_run_inline("list", in_process=True, interruptible=True)
    assert not may_run_inline("list", in_process=False, interruptible=True)


def test_a_statement_past_the_budget_is_stopped_and_the_connection_still_works() -> None:
    connection = sqlite3.connect(":memory:")
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(Overran), loop_budget(connection):
        connection.execute(endless).fetchall()
    with loop_budget(connection):
        assert connection.execute("SELECT 1 + 1").fetchall() == [(2,)]
    connection.close()


def test_an_error_within_the_budget_is_the_statements_own() -> None:
    connection = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError, match="no such table"), loop_budget(connection):
        connection.execute("SELECT * FROM nowhere")
    connection.close()


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_a_write_may_wait_for_a_lock_so_it_never_runs_inline(operation: Operation) -> None:
    assert not may_run_inline(operation, in_process=True)


def test_stop_iteration_in_a_worker_thread_is_raised_not_awaited_forever() -> None:
    def buggy() -> int:
        return next(iter(()))

    async def hop() -> int:
        return await asyncio.wait_for(run_sync(buggy), timeout=10)

    with pytest.raises(RuntimeError, match="StopIteration") as raised:
        asyncio.run(hop())
    assert isinstance(raised.value.__cause__, StopIteration)
