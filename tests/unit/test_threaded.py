"""What may run on the event loop thread: a test per reason ``_threaded.may_run_inline`` refuses."""

from __future__ import annotations

import pytest

from ormgate.adapters._threaded import Operation, may_run_inline


def test_a_get_by_key_in_an_in_process_database_may_run_inline() -> None:
    assert may_run_inline("get", in_process=True)


def test_nothing_on_a_database_server_runs_inline() -> None:
    operations: tuple[Operation, ...] = ("get", "list", "create", "update", "delete")
    assert not any(may_run_inline(operation, in_process=False) for operation in operations)


def test_a_list_may_scan_so_it_never_runs_inline() -> None:
    assert not may_run_inline("list", in_process=True)


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_a_write_may_wait_for_a_lock_so_it_never_runs_inline(operation: Operation) -> None:
    assert not may_run_inline(operation, in_process=True)
