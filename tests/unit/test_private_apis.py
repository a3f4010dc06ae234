"""Every private or undocumented API ormgate reaches, held to what ormgate assumes of it.

docs/adapters.md ("Private APIs") says why each is used and what would replace
it. When a library changes one, its test here fails with a message naming the
library, its version and the attribute, before a user meets the change.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.metadata
import inspect
from pathlib import Path
from typing import Annotated, Any

import peewee as pw
import sqlalchemy as sa
from fastapi import Header
from playhouse.pool import PooledDatabase, PooledSqliteDatabase
from playhouse.postgres_ext import ArrayField
from pydantic_core import SchemaValidator
from starlette.requests import Request


def _pin(library: str, attribute: str, holds: bool) -> None:
    version = importlib.metadata.version(library)
    assert holds, (
        f"{library} {version} changed {attribute}, which ormgate relies on: "
        "see docs/adapters.md, Private APIs, for why and what to do"
    )


def _source(function: Any) -> str:
    """The source of ``function``; "" when it is gone, so that the pin's message says which."""
    return "" if function is None else inspect.getsource(function)


# -- FastAPI and Starlette ------------------------------------------------------------------------


def test_fastapi_effective_route_context_var() -> None:
    import fastapi.routing

    var = getattr(fastapi.routing, "_effective_route_context_var", None)
    _pin("fastapi", "fastapi.routing._effective_route_context_var", isinstance(var, contextvars.ContextVar))
    _pin("fastapi", "APIRoute.get_route_handler reading it", "_effective_route_context_var" in _source(fastapi.routing))


def test_fastapi_solve_dependencies_and_its_exit_stacks() -> None:
    import fastapi.dependencies.utils as utils
    import fastapi.routing

    solve = getattr(utils, "solve_dependencies", None)
    wanted = {"request", "dependant", "dependency_overrides_provider", "async_exit_stack", "embed_body_fields"}
    held = set(inspect.signature(solve).parameters) if solve is not None else set()
    _pin("fastapi", "fastapi.dependencies.utils.solve_dependencies(...)", wanted <= held)
    get = getattr(utils, "get_dependant", None)
    held = set(inspect.signature(get).parameters) if get is not None else set()
    _pin("fastapi", "fastapi.dependencies.utils.get_dependant(path=, call=)", {"path", "call"} <= held)
    for key in ("fastapi_inner_astack", "fastapi_function_astack"):
        set_and_read = key in _source(solve) and key in _source(fastapi.routing.request_response)
        _pin("fastapi", f"the request's {key}", set_and_read)


def test_fastapi_request_params_to_args_and_the_dependant() -> None:
    import dataclasses

    import fastapi.dependencies.utils as utils
    from fastapi.dependencies.models import Dependant

    solve = getattr(utils, "request_params_to_args", None)
    held = list(inspect.signature(solve).parameters) if solve is not None else []
    _pin(
        "fastapi",
        "fastapi.dependencies.utils.request_params_to_args(fields, received_params)",
        held[:2]
        == [
            "fields",
            "received_params",
        ],
    )
    # ormgate.solver knows each of them: a new one may be a kind of dependency its plan would get wrong.
    known = {
        "path_params", "query_params", "header_params", "cookie_params", "body_params", "dependencies", "name",
        "call", "request_param_name", "websocket_param_name", "http_connection_param_name", "response_param_name",
        "background_tasks_param_name", "security_scopes_param_name", "own_oauth_scopes", "parent_oauth_scopes",
        "use_cache", "path", "scope", "concurrency",
    }  # fmt: skip
    fields = {field.name for field in dataclasses.fields(Dependant)}
    _pin("fastapi", f"the fields of Dependant (new: {sorted(fields - known)})", fields <= known)


def test_fastapi_what_request_params_to_args_asks_of_a_field() -> None:
    """ormgate.solver asks it once per field, and validates a scalar with the field itself."""
    import fastapi.dependencies.utils as utils

    from ormgate.solver import _scalar

    async def dependency(x_tenant: Annotated[int, Header()], x_many: Annotated[list[int], Header()]) -> None:
        return None

    one, many = utils.get_dependant(path="/", call=dependency).header_params
    for name in ("_get_param_model", "_is_json_field", "_get_param_aliases", "field_annotation_is_sequence"):
        _pin("fastapi", f"fastapi.dependencies.utils.{name}", callable(getattr(utils, name, None)))
    _pin("fastapi", "_get_param_aliases(field) -> [(alias, key)]", utils._get_param_aliases(one) == [("x-tenant",) * 2])
    _pin(
        "fastapi",
        "ModelField.validate(value, values, loc=) -> (value, errors)",
        one.validate("7", {}, loc=()) == (7, []),
    )
    wrong = one.validate("x", {}, loc=("header", "x-tenant"))[1]
    _pin("fastapi", "ModelField.validate's errors, located", wrong[0]["loc"] == ("header", "x-tenant"))
    _pin(
        "fastapi", "how ormgate.solver reads a scalar header", _scalar(one) == (one, "x-tenant", ("header", "x-tenant"))
    )
    _pin("fastapi", "a list header is read by FastAPI's own function", _scalar(many) is None)
    # The plan validates a scalar with the validator ModelField.validate calls, called as it calls it.
    validator = getattr(getattr(one, "_type_adapter", None), "validator", None)
    _pin("fastapi", "ModelField._type_adapter.validator (pydantic's)", isinstance(validator, SchemaValidator))
    _pin(
        "fastapi",
        "ModelField.validate = _type_adapter.validate_python(value, from_attributes=True)",
        "self._type_adapter.validate_python(value, from_attributes=True)" in " ".join(_source(one.validate).split()),
    )
    assert isinstance(validator, SchemaValidator)
    _pin("fastapi", "the validator of an int header", validator.validate_python("7", from_attributes=True) == 7)


def test_starlette_request_json_cache() -> None:
    async def body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"not json", "more_body": False}

    request = Request({"type": "http", "method": "POST", "headers": []}, body)
    request._json = {"parsed": "by ormgate"}
    _pin("starlette", "Request._json (the cache of Request.json())", asyncio.run(request.json()) == request._json)


# -- SQLAlchemy -----------------------------------------------------------------------------------


def test_sqlalchemy_has_events(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pin.sqlite3'}")
    _pin("sqlalchemy", "Engine._has_events and Dialect._has_events", not engine._has_events)
    _pin("sqlalchemy", "Dialect._has_events", not engine.dialect._has_events)
    copy = engine.execution_options(compiled_cache=None)
    sa.event.listen(engine, "before_cursor_execute", lambda *args: None)
    _pin("sqlalchemy", "Engine._has_events (set by a listener)", engine._has_events is True)
    _pin("sqlalchemy", "Engine._has_events (of a copy, by its parent's listener)", copy._has_events is True)
    sa.event.listen(engine, "do_execute", lambda *args: None)
    _pin("sqlalchemy", "Dialect._has_events (set by a listener)", engine.dialect._has_events is True)
    engine.dispose()


def test_sqlalchemy_greenlet_spawn() -> None:
    from sqlalchemy.util import greenlet_spawn

    async def spawned() -> Any:
        return await greenlet_spawn(lambda: "ran")

    _pin("sqlalchemy", "sqlalchemy.util.greenlet_spawn", asyncio.run(spawned()) == "ran")


# -- Django -----------------------------------------------------------------------------------------


def test_django_health_check_done() -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper

    # Set before the first query, it spares that query's ping (CONN_HEALTH_CHECKS).
    checked = _source(BaseDatabaseWrapper.close_if_health_check_failed)
    _pin("django", "BaseDatabaseWrapper.health_check_done", "self.health_check_done" in checked)


def test_django_create_index_name() -> None:
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

    method = getattr(BaseDatabaseSchemaEditor, "_create_index_name", None)
    parameters = list(inspect.signature(method).parameters) if method else []
    named = parameters[:3] == ["self", "table_name", "column_names"]
    _pin("django", "BaseDatabaseSchemaEditor._create_index_name", named)
    _pin("django", "BaseDatabaseSchemaEditor._create_index_name(suffix=)", "suffix" in parameters)


def test_django_sqlite_transaction_mode() -> None:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    begins = _source(getattr(DatabaseWrapper, "_start_transaction_under_autocommit", None))
    _pin("django", "sqlite3 DatabaseWrapper.transaction_mode", "self.transaction_mode" in begins)


def test_django_compiler_of_values(tmp_path: Path) -> None:
    from ormgate.adapters.django import configure
    from tests.conformance.models.django import Category

    alias = configure(f"sqlite:///{tmp_path / 'pin.sqlite3'}")
    from django.db import connections

    query = Category._default_manager.using(alias).filter(pk=1).values("id", "name").query
    compiler = query.get_compiler(using=alias, connection=connections[alias])
    sql, params = compiler.as_sql()
    _pin("django", "SQLCompiler.as_sql() -> (sql, params)", isinstance(sql, str) and list(params) == [1])
    select = compiler.select
    _pin("django", "SQLCompiler.select (column, sql, alias) triples", len(select) == 2 and len(select[0]) == 3)
    converters = compiler.get_converters([column for column, _sql, _alias in select])
    _pin("django", "SQLCompiler.get_converters -> {i: (converters, expression)}", isinstance(converters, dict))
    connections[alias].close()


# -- Peewee -----------------------------------------------------------------------------------------


def test_peewee_pool_hooks(tmp_path: Path) -> None:
    connect = _source(PooledDatabase._connect)
    _pin("peewee", "PooledDatabase._is_closed (asked on check-out)", "self._is_closed(conn)" in connect)
    _pin("peewee", "Database._set_server_version", "self._set_server_version(" in _source(pw.Database.connect))
    pool = PooledSqliteDatabase(str(tmp_path / "pin.sqlite3"), max_connections=7)
    _pin("peewee", "PooledDatabase._max_connections", getattr(pool, "_max_connections", None) == 7)


def test_peewee_index_attributes() -> None:
    class Named(pw.Model):
        code = pw.CharField(unique=True)

    (index,) = Named._meta.fields_to_index()
    _pin("peewee", "Index._name", getattr(index, "_name", None) == "named_code")
    _pin("peewee", "Index._unique", getattr(index, "_unique", None) is True)
    _pin("peewee", "Index._expressions", list(getattr(index, "_expressions", ())) == [Named.code])


def test_peewee_array_field_element() -> None:
    field = ArrayField(pw.IntegerField)
    element = getattr(field, "_ArrayField__field", None)
    _pin("peewee", "ArrayField's element field (_ArrayField__field)", isinstance(element, pw.IntegerField))
