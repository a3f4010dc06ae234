"""The body limit's setting: a number of bytes, refused when it is not one."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

import ormgate
from ormgate.bodies import DEFAULT_MAX_BODY_SIZE


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    pass


@pytest.mark.parametrize("size", [-1, 1.5, "1024", True, None])
def test_a_limit_that_is_not_a_number_of_bytes_is_refused(size: Any) -> None:
    with pytest.raises(ValueError, match="max_body_size"):
        ormgate.BodyLimit(_app, max_size=size)


def test_the_default_is_one_mebibyte() -> None:
    assert ormgate.BodyLimit(_app).max_size == DEFAULT_MAX_BODY_SIZE == 1024 * 1024
    assert ormgate.BodyLimit(_app, max_size=0).max_size == 0
