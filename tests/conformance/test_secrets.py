"""The users service's passwords (issue 12, items 3 and 4), on every pair: few hashed at once, none logged."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from ormgate.demo import common
from tests.conformance.asgi import exchange
from tests.conformance.test_contract import assert_problem
from tests.conformance.test_users import ADA, create
from tests.conftest import Served

PASSWORD = "correct horse battery"


@pytest.fixture
def users(users_service: Served) -> Served:
    users_service.clear("users")
    return users_service


class CountingHasher:
    """A cheap Argon2id that counts how many hashes run at once."""

    def __init__(self) -> None:
        self.real = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.hashed = 0

    def hash(self, password: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.005)  # long enough for the others to pile up behind, were they let in
            return self.real.hash(password)
        finally:
            with self.lock:
                self.running -= 1
                self.hashed += 1


def test_no_more_than_a_few_passwords_are_hashed_at_once(users: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = CountingHasher()
    monkeypatch.setattr(common, "hasher", hasher)
    ids = [create(users, username=f"first{n}", email=f"first{n}@example.com").json()["id"] for n in range(20)]

    def create_one(n: int) -> int:
        status: int = create(users, username=f"user{n}", email=f"user{n}@example.com").status_code
        return status

    def patch_one(pk: int) -> int:
        return users.client.patch(f"/users/{pk}", json={"password": f"new secret {pk}"}).status_code

    # 200 creates (the hand-written route) and 20 password changes (a generated one), 16 at a time:
    # four times the places, with few enough clients that Django (a connection per thread) stays
    # within a shared server's connections.
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(create_one, range(200)))
        patched = list(pool.map(patch_one, ids))
    assert Counter(created) == {201: 200}
    assert Counter(patched) == {200: 20}
    assert hasher.hashed == 240
    assert 1 <= hasher.most <= common.MAX_HASHES < 16  # before: as many as the clients


# -- no secret in any log ----------------------------------------------------------------------


@pytest.fixture
def column_away(users: Served) -> Iterator[dict[str, Any]]:
    """A user, and password_hash renamed: every write of a password is then an unexpected database error."""
    ada: dict[str, Any] = create(users).json()
    with users.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users RENAME COLUMN password_hash TO hash_away")
    try:
        yield ada
    finally:
        with users.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE users RENAME COLUMN hash_away TO password_hash")


def test_a_failing_write_logs_neither_the_password_nor_its_hash(
    users: Served, column_away: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # every logger, at the level a service logs at
    url = f"/users/{column_away['id']}"
    responses = [
        create(users, username="grace", email="grace@example.com", password=PASSWORD),  # hand-written
        users.client.patch(url, json={"password": PASSWORD}),  # generated
        users.client.put(url, json={**ADA, "password": PASSWORD}),  # generated
    ]
    for response in responses:
        assert_problem(response, 500)
        assert PASSWORD not in response.text
        assert "argon2" not in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3  # each logged, once
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = "\n".join(formatter.format(record) for record in caplog.records)  # tracebacks included
    assert "password_hash" in logged  # the log says what failed ...
    assert PASSWORD not in logged  # ... without the password
    assert "argon2" not in logged  # ... or its hash ($argon2id$...)


def test_what_the_server_gets_of_a_failing_write_is_a_complete_500(users: Served, column_away: dict[str, Any]) -> None:
    # The server logs what the app raises to it, in full: nothing may reach it.
    body = f'{{"username": "grace", "email": "grace@example.com", "password": "{PASSWORD}"}}'.encode()
    sent = exchange(users, "POST", "/users", [body], [("content-type", "application/json")])
    assert sent.raised is None
    assert sent.status == 500
    assert sent.complete
    assert PASSWORD.encode() not in sent.body
