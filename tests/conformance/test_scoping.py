"""Scopes (issue 16, item 1) on every pair: rows of another scope are invisible and untouchable.

The scoped app (tests/conformance/models, ``scoped_app``) serves the items with
each request scoped to its tenant, a category named by ``X-Tenant``; a request
without it is an administrator's, unscoped.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conformance.test_contract import assert_problem
from tests.conftest import Served

# The tenants' categories, far beyond the ids a sequence gives the audit rows (the hooks' tests).
T1, T2, T3 = 1001, 1002, 1003
ONE = {"x-tenant": str(T1)}
TWO = {"x-tenant": str(T2)}


@pytest.fixture
def api(tenants: Served) -> Served:
    return tenants


def add(api: Served, tenant: dict[str, str], name: str, **values: Any) -> dict[str, Any]:
    response = api.client.post("/items", json={"name": name, **values}, headers=tenant)
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


def stored(api: Served, pk: int) -> tuple[Any, ...] | None:
    with api.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, category_id, quantity FROM items WHERE id = :id"), {"id": pk}).first()
    return None if row is None else tuple(row)


def names(api: Served, url: str, tenant: dict[str, str] | None = None) -> list[str]:
    response = api.client.get(url, headers=tenant or {})
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_a_create_gets_the_scopes_values(api: Served) -> None:
    row = add(api, ONE, "one")
    assert row["category_id"] == T1
    assert stored(api, row["id"]) == ("one", T1, 0)
    # The same value as the scope's is no conflict.
    assert add(api, TWO, "two", category_id=T2)["category_id"] == T2


def test_a_create_with_another_scopes_value_is_a_422_and_writes_nothing(api: Served) -> None:
    response = api.client.post("/items", json={"name": "sneaky", "category_id": T2}, headers=ONE)
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["category_id"]
    assert api.scalar("SELECT COUNT(*) FROM items") == 0


def test_a_list_and_its_count_see_the_scopes_rows_only(api: Served) -> None:
    for n in range(3):
        add(api, ONE, f"one-{n}", quantity=n)
        add(api, TWO, f"two-{n}", quantity=n)
    assert names(api, "/items", ONE) == ["one-0", "one-1", "one-2"]
    assert names(api, "/items?quantity__gte=1&sort=-quantity", TWO) == ["two-2", "two-1"]
    # A filter cannot widen the scope: it only narrows it further.
    assert names(api, f"/items?category_id={T2}", ONE) == []
    assert names(api, "/items?name__startswith=two", ONE) == []
    counted = api.client.get("/items?count=true", headers=ONE).json()
    assert counted["total"] == 3
    assert api.client.get("/items?count=true").json()["total"] == 6  # the administrator's
    assert names(api, "/items?count=true", {"x-tenant": str(T3)}) == []


def test_a_cursor_walks_its_scope_and_is_refused_in_another(api: Served) -> None:
    for n in range(5):
        add(api, ONE, f"one-{n}")
        add(api, TWO, f"two-{n}")
    seen: list[str] = []
    url = "/items?limit=2"
    while True:
        body = api.client.get(url, headers=ONE).json()
        seen += [item["name"] for item in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
        url = f"/items?limit=2&cursor={cursor}"
    assert seen == [f"one-{n}" for n in range(5)]
    first = api.client.get("/items?limit=2", headers=ONE).json()["next_cursor"]
    for other in (TWO, {}):  # another tenant, the administrator: not a cursor of their list
        body = assert_problem(api.client.get(f"/items?limit=2&cursor={first}", headers=other), 404)
        assert body["errors"][0]["field"] == "cursor"


def test_a_row_of_another_scope_is_not_found(api: Served) -> None:
    theirs = add(api, TWO, "theirs", quantity=7)
    pk = theirs["id"]
    assert api.client.get(f"/items/{pk}", headers=TWO).status_code == 200
    assert api.client.get(f"/items/{pk}").status_code == 200
    assert_problem(api.client.get(f"/items/{pk}", headers=ONE), 404)
    assert_problem(api.client.put(f"/items/{pk}", json={"name": "mine"}, headers=ONE), 404)
    assert_problem(api.client.patch(f"/items/{pk}", json={"quantity": 1}, headers=ONE), 404)
    assert_problem(api.client.delete(f"/items/{pk}", headers=ONE), 404)
    # A precondition does not tell that the row exists: still a 404, not a 412.
    star = {**ONE, "if-match": "*"}
    assert_problem(api.client.patch(f"/items/{pk}", json={"quantity": 1}, headers=star), 404)
    assert_problem(api.client.delete(f"/items/{pk}", headers={**ONE, "if-match": '"nope"'}), 404)
    assert stored(api, pk) == ("theirs", T2, 7)  # changed nothing


def test_a_scope_on_a_boolean_holds_for_either_value_whichever_came_first(api: Served) -> None:
    """Django writes ``active = true`` as ``WHERE active`` and ``= false`` as ``WHERE NOT active``:
    a statement compiled once for the first value must not serve the other (it once did)."""
    rows = {value: add(api, ONE, f"active-{value}", active=value) for value in (True, False)}
    for value in (True, False, True, False):
        scope = {**ONE, "x-active": str(value).lower()}
        mine, theirs = rows[value]["id"], rows[not value]["id"]
        assert api.client.get(f"/items/{mine}", headers=scope).json()["active"] is value
        assert_problem(api.client.get(f"/items/{theirs}", headers=scope), 404)
        assert names(api, "/items", scope) == [f"active-{value}"]
        assert names(api, "/items?sort=-active,name&limit=1", {**ONE, "x-active": str(value).lower()}) == [
            f"active-{value}"
        ]
        assert_problem(api.client.delete(f"/items/{theirs}", headers=scope), 404)
    assert [stored(api, row["id"]) is not None for row in rows.values()] == [True, True]


def test_writes_in_scope_work_and_keep_the_row_in_it(api: Served) -> None:
    pk = add(api, ONE, "mine")["id"]
    patched = api.client.patch(f"/items/{pk}", json={"quantity": 3}, headers=ONE)
    assert patched.status_code == 200, patched.text
    # PUT resets what it omits, but not the scope's fields: the row stays in scope.
    replaced = api.client.put(f"/items/{pk}", json={"name": "renamed"}, headers=ONE)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["category_id"] == T1
    assert stored(api, pk) == ("renamed", T1, 0)
    matched = {**ONE, "if-match": replaced.headers["etag"]}
    assert api.client.patch(f"/items/{pk}", json={"quantity": 5}, headers=matched).status_code == 200
    assert api.client.delete(f"/items/{pk}", headers=ONE).status_code == 204
    assert stored(api, pk) is None


def test_moving_a_row_out_of_scope_is_a_422_and_changes_nothing(api: Served) -> None:
    pk = add(api, ONE, "mine", quantity=4)["id"]
    for method in ("put", "patch"):
        response = api.client.request(method, f"/items/{pk}", json={"name": "gone", "category_id": T2}, headers=ONE)
        body = assert_problem(response, 422)
        assert [e["field"] for e in body["errors"]] == ["category_id"]
    assert stored(api, pk) == ("mine", T1, 4)


ROWS = 12


def _race(api: Served, first: Any, second: Any) -> list[tuple[int, int]]:
    """Runs ``first(i)`` and ``second(i)`` for each of ROWS, the pairs at once; their status codes."""
    start = threading.Barrier(2)

    def both(i: int, call: Any) -> int:
        start.wait()
        return int(call(i).status_code)

    results = []
    with ThreadPoolExecutor(2) as pool:
        for i in range(ROWS):
            a = pool.submit(both, i, first)
            b = pool.submit(both, i, second)
            results.append((a.result(), b.result()))
    return results


def test_a_scoped_update_racing_a_move_out_of_scope_never_writes_outside_it(api: Served) -> None:
    pks = [add(api, ONE, f"row-{i}")["id"] for i in range(ROWS)]

    def move(i: int) -> Any:  # the administrator moves the row to tenant 2, naming it so
        return api.client.patch(f"/items/{pks[i]}", json={"category_id": T2, "name": "moved"})

    def write(i: int) -> Any:  # tenant 1 writes the row, as long as it is its own
        return api.client.patch(f"/items/{pks[i]}", json={"name": "tenant one"}, headers=ONE)

    for moved, wrote in _race(api, move, write):
        assert moved == 200
        assert wrote in (200, 404)
    # Had tenant 1 written after a move, a row of tenant 2 would carry its name.
    for pk in pks:
        assert stored(api, pk) == ("moved", T2, 0)


def test_a_scoped_delete_racing_a_move_out_of_scope_never_deletes_outside_it(api: Served) -> None:
    pks = [add(api, ONE, f"row-{i}")["id"] for i in range(ROWS)]

    def move(i: int) -> Any:
        return api.client.patch(f"/items/{pks[i]}", json={"category_id": T2})

    def delete(i: int) -> Any:
        return api.client.delete(f"/items/{pks[i]}", headers=ONE)

    for i, (moved, deleted) in enumerate(_race(api, move, delete)):
        # Exactly one of them found the row: a delete after the move would have deleted tenant 2's row.
        assert (moved, deleted) in ((200, 404), (404, 204)), (moved, deleted)
        assert stored(api, pks[i]) == (None if deleted == 204 else (f"row-{i}", T2, 0))


# -- hooks (issue 16, item 2): in the write's unit of work ------------------------------------------


def audited(api: Served, mark: str) -> list[str]:
    with api.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name FROM categories WHERE name LIKE :m"), {"m": f"% {mark}"})
        return sorted(name for (name,) in rows)


def test_hooks_write_an_audit_row_in_the_writes_transaction(api: Served) -> None:
    audit = {**ONE, "x-audit": "a1"}
    created = api.client.post("/items", json={"name": "audited"}, headers=audit)
    assert created.status_code == 201, created.text
    pk = created.json()["id"]
    assert api.client.patch(f"/items/{pk}", json={"quantity": 2}, headers=audit).status_code == 200
    # Category names are unique: this update marks its audit row otherwise.
    assert api.client.put(f"/items/{pk}", json={"name": "again"}, headers={**ONE, "x-audit": "a2"}).status_code == 200
    assert api.client.delete(f"/items/{pk}", headers=audit).status_code == 204
    assert audited(api, "a1") == sorted([f"create {pk} a1", f"update {pk} a1", f"delete {pk} a1"])
    assert audited(api, "a2") == [f"update {pk} a2"]


def test_a_before_hook_may_change_the_values(api: Served) -> None:
    created = api.client.post("/items", json={"name": "shout: hello"}, headers=ONE)
    assert created.json()["name"] == "SHOUT: HELLO"
    pk = created.json()["id"]
    patched = api.client.patch(f"/items/{pk}", json={"name": "shout: again"}, headers=ONE)
    assert patched.json()["name"] == "SHOUT: AGAIN"
    assert stored(api, pk) == ("SHOUT: AGAIN", T1, 0)


def test_a_hook_that_raises_leaves_nothing_written(api: Served) -> None:
    body = assert_problem(api.client.post("/items", json={"name": "refused"}, headers=ONE), 422)
    assert "refused by a hook" in body["detail"]
    failing = {**ONE, "x-audit": "f1", "x-fail-after": "1"}
    assert_problem(api.client.post("/items", json={"name": "late"}, headers=failing), 409)
    assert api.scalar("SELECT COUNT(*) FROM items") == 0
    pk = add(api, ONE, "kept", quantity=1)["id"]
    assert_problem(api.client.patch(f"/items/{pk}", json={"name": "refused"}, headers=ONE), 422)
    assert_problem(api.client.patch(f"/items/{pk}", json={"quantity": 9}, headers=failing), 409)
    assert_problem(api.client.delete(f"/items/{pk}", headers={**ONE, "x-refuse": "1"}), 422)
    assert_problem(api.client.delete(f"/items/{pk}", headers=failing), 409)
    assert stored(api, pk) == ("kept", T1, 1)
    # The after hooks wrote their audit rows before raising: rolled back with the write.
    assert audited(api, "f1") == []


def test_a_hook_raising_stop_iteration_is_a_500_not_a_request_that_never_ends(api: Served) -> None:
    """An asyncio future refuses StopIteration: raised in a worker thread, it left the request waiting forever."""
    stop = {**ONE, "x-stop": "1"}
    pk = add(api, ONE, "kept", quantity=1)["id"]
    pool = ThreadPoolExecutor(1)  # not waited for on a failure: its thread would wait forever
    try:
        for send in (
            lambda: api.client.post("/items", json={"name": "never"}, headers=stop),
            lambda: api.client.patch(f"/items/{pk}", json={"quantity": 5}, headers=stop),
            lambda: api.client.delete(f"/items/{pk}", headers=stop),
        ):
            assert_problem(pool.submit(send).result(timeout=30), 500)
    finally:
        pool.shutdown(wait=False)
    assert stored(api, pk) == ("kept", T1, 1)
    assert api.scalar("SELECT COUNT(*) FROM items") == 1


def test_hooks_do_not_run_for_a_row_out_of_scope(api: Served) -> None:
    pk = add(api, TWO, "theirs")["id"]
    audit = {**ONE, "x-audit": "o1"}
    assert_problem(api.client.patch(f"/items/{pk}", json={"name": "x"}, headers=audit), 404)
    assert_problem(api.client.delete(f"/items/{pk}", headers=audit), 404)
    assert audited(api, "o1") == []


# -- field permissions (issue 16, item 3) -----------------------------------------------------------

GUEST = {**ONE, "x-role": "guest"}


def test_a_hidden_field_vanishes_from_every_response(api: Served) -> None:
    pk = add(api, ONE, "priced", price="9.50", weight=1.5)["id"]
    assert api.client.get(f"/items/{pk}", headers=ONE).json()["price"] == "9.50"
    got = api.client.get(f"/items/{pk}", headers=GUEST)
    assert got.status_code == 200
    assert "price" not in got.json()
    assert got.json()["weight"] == 1.5
    listed = api.client.get("/items", headers=GUEST).json()["items"]
    assert [sorted(item) for item in listed] == [sorted(got.json())]
    patched = api.client.patch(f"/items/{pk}", json={"quantity": 2}, headers=GUEST)
    assert patched.status_code == 200
    assert "price" not in patched.json()
    created = api.client.post("/items", json={"name": "guest's"}, headers=GUEST)
    assert created.status_code == 201
    assert "price" not in created.json()


def test_a_hidden_field_cannot_be_asked_for_filtered_or_sorted_and_is_never_named(api: Served) -> None:
    add(api, ONE, "priced", price="9.50")
    for url in ("/items?fields=id,price", "/items?price=9.50", "/items?price__gt=1", "/items?sort=price"):
        hidden = assert_problem(api.client.get(url, headers=GUEST), 400)
        # The same answer as for a field the model does not have: it lists the others only.
        unknown = assert_problem(api.client.get(url.replace("price", "nosuch"), headers=GUEST), 400)
        assert hidden["detail"] == unknown["detail"].replace("nosuch", "price")
        assert "price" not in str(hidden["errors"][0].get("allowed"))
    assert api.client.get("/items?fields=id,price", headers=ONE).status_code == 200


def test_a_field_a_request_may_not_write_is_refused_and_kept(api: Served) -> None:
    pk = add(api, ONE, "priced", price="9.50", weight=1.5)["id"]
    for body, kind in (
        ({"name": "x", "price": "1.00"}, "extra_forbidden"),
        ({"name": "x", "weight": 2.0}, "read_only"),
    ):
        for method, url in (("post", "/items"), ("put", f"/items/{pk}"), ("patch", f"/items/{pk}")):
            problem = assert_problem(api.client.request(method, url, json=body, headers=GUEST), 422)
            assert [(e["field"], e["type"]) for e in problem["errors"]] == [(next(iter(set(body) - {"name"})), kind)]
    assert api.scalar("SELECT COUNT(*) FROM items") == 1
    # A PUT resets what it omits, but not what this request may not write.
    etag = api.client.get(f"/items/{pk}", headers=GUEST).headers["etag"]
    replaced = api.client.put(f"/items/{pk}", json={"name": "renamed"}, headers={**GUEST, "if-match": etag})
    assert replaced.status_code == 200, replaced.text
    admin = api.client.get(f"/items/{pk}").json()
    assert (admin["name"], admin["price"], admin["weight"]) == ("renamed", "9.50", 1.5)


def test_openapi_shows_a_restricted_field_as_optional(api: Served) -> None:
    spec = api.client.get("/openapi.json").json()
    ref = spec["paths"]["/items/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rpartition("/")[2]]
    assert "price" in schema["properties"]
    assert "price" not in schema["required"]
    assert "name" in schema["required"]
