"""A scope dependency solved exactly as FastAPI solves it, without FastAPI's solver, when that is simple.

FastAPI's ``solve_dependencies`` costs tens of µs a request even for an ``async def``
reading one header: a fifth of a GET. ``plan`` reads the ``Dependant`` FastAPI built
(``get_dependant``, once per route) and, when every dependency in it is of the kind
below, returns a ``Plan`` that solves it as FastAPI's solver would:

- an ``async def`` function (never a plain ``def``: FastAPI runs those in a worker
  thread; nor a generator, a class, a callable object, a partial or a wrapped function);
- whose parameters are the ``Request``, query, header and cookie parameters, and
  sub-dependencies of the same kind;
- with no security scopes, no ``Depends(scope=...)`` and no concurrency limit.

The parameters are validated with the fields FastAPI built: a scalar one found in the
request where Starlette's ``Headers``, ``QueryParams`` or cookies find it, and validated
by the pydantic validator of its field, called as ``ModelField.validate`` calls it (its
``from_attributes=True`` left out where the schema has no object it could read),
after FastAPI's per-request checks were made once when the plan was (no parameter
model, no list, no JSON, one name); any other, and all of them when one is missing or
invalid, by FastAPI's own ``request_params_to_args``: the same values, defaults and 422
errors, in the same order. Each
dependency runs once a request (FastAPI's cache, unless ``use_cache=False``), in FastAPI's
order; a dependency with an invalid parameter is not called while the others are, and the
errors are raised together, as FastAPI does. Anything else (a ``yield`` or ``def``
dependency, ``Security``, ``BackgroundTasks``, ``Response``, a path parameter, a body) has
no plan, and FastAPI's solver runs; ``access.solving`` also leaves every request to it
while ``app.dependency_overrides`` holds anything.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastapi.dependencies.utils as utils
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyQuery
from pydantic_core import SchemaValidator, ValidationError
from starlette.requests import Request

# Where each kind of parameter is read from, in the order FastAPI validates them.
_HEADERS = operator.attrgetter("headers")
_SOURCES: tuple[tuple[str, Callable[[Request], Mapping[str, Any]]], ...] = (
    ("query_params", operator.attrgetter("query_params")),
    ("header_params", _HEADERS),
    ("cookie_params", operator.attrgetter("cookies")),
)
_sequence = getattr(utils, "field_annotation_is_sequence", None)  # a list parameter: read with getlist
# What a dependency of a plan may not take: FastAPI's solver gives these.
_REFUSED = (
    "path_params",
    "body_params",
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
    "own_oauth_scopes",
    "scope",
    "concurrency",
)


# A scalar field read straight from the request: the field, the name it is sent under, its error location.
Scalar = tuple[Any, str, tuple[str, str]]
# How the reader finds one: ``find(request, key)``, ``validate``s it (raising pydantic's
# ValidationError) and keeps the value as the parameter ``name``.
Found = tuple[Callable[[Request, Any], Any], Any, Callable[..., Any], str]


@dataclass(frozen=True, slots=True)
class _Params:
    """One kind of parameter of a dependency: FastAPI's fields, where they are read, and, if all scalar, how."""

    fields: list[Any]
    source: Callable[[Request], Mapping[str, Any]]
    scalars: tuple[Scalar, ...] | None


@dataclass(frozen=True, slots=True)
class _Node:
    call: Callable[..., Any]
    name: str | None
    use_cache: bool
    subs: tuple[_Node, ...]
    params: tuple[_Params, ...]
    request_name: str | None
    read: Callable[[Request], dict[str, Any] | None]


def _scalar(field: Any) -> Scalar | None:
    """``field`` as FastAPI's ``request_params_to_args`` would find it in every request, or None: ask it."""
    try:
        if utils._get_param_model(field) is not None or utils._is_json_field(field):
            return None
        if _sequence is None or _sequence(field.field_info.annotation):
            return None
        ((_, key),) = utils._get_param_aliases(field)
        return field, key, (field.field_info.in_.value, key)
    except (AttributeError, TypeError, ValueError):  # another FastAPI: its own function does it all
        return None


def _params(dependant: Dependant) -> tuple[_Params, ...]:
    found = []
    for kind, source in _SOURCES:
        fields = getattr(dependant, kind)
        if fields:
            scalars = [_scalar(field) for field in fields]
            simple = None if None in scalars else tuple(s for s in scalars if s is not None)
            found.append(_Params(fields, source, simple))
    return tuple(found)


def _reader(params: tuple[_Params, ...], request_name: str | None) -> Callable[[Request], dict[str, Any] | None]:
    """How a node's own parameters are read when all are scalar: their values, or None when one is
    missing or invalid (its default or its error are FastAPI's to give: ``_own`` asks it)."""
    finders = [_finder(p.source, field, key) for p in params for field, key, _ in p.scalars or ()]
    if any(p.scalars is None for p in params) or None in finders:
        return lambda request: None
    found = tuple(f for f in finders if f is not None)
    if len(found) == 1 and found[0][0] is _header and request_name is None:
        return _one_header(*found[0][1:])

    def read(request: Request) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        for find, key, validate, name in found:
            value = find(request, key)
            if value is None:
                return None
            try:
                values[name] = validate(value)
            except ValidationError:
                return None
        if request_name is not None:
            values[request_name] = request
        return values

    return read


def _one_header(key: bytes, validate: Callable[..., Any], name: str) -> Callable[[Request], dict[str, Any] | None]:
    """``_reader``'s reader of one header parameter (a tenant's, a token's: the usual scope), ``_header``
    inline: one call a request less."""

    def read(request: Request) -> dict[str, Any] | None:
        for sent, value in request.scope["headers"]:
            if sent == key:
                try:
                    return {name: validate(value.decode("latin-1"))}
                except ValidationError:
                    return None
        return None

    return read


def _finder(source: Callable[[Request], Mapping[str, Any]], field: Any, key: str) -> Found | None:
    """How one scalar parameter is found in a request (as ``source(request).get(key)`` finds it) and
    validated (as ``ModelField.validate`` does: the pydantic validator FastAPI built for the field,
    called as it calls it, at a sixth of the cost, ``_reads_attributes``); None without that validator."""
    adapter = getattr(field, "_type_adapter", None)
    validator = getattr(adapter, "validator", None)
    if not isinstance(validator, SchemaValidator):
        return None
    validate = validator.validate_python
    schema = getattr(adapter, "core_schema", None)
    if schema is None or _reads_attributes(schema):  # no schema known: called as FastAPI calls it
        validate = functools.partial(validate, from_attributes=True)
    if source is _HEADERS:  # Starlette's Headers.get, without making one: the first of that name
        return _header, key.lower().encode("latin-1"), validate, field.name
    return _get, (source, key), validate, field.name


# Core schemas that may read an object's attributes, which ``from_attributes`` allows: a reference
# may be one of them.
_OBJECTS = frozenset({"model", "model-fields", "dataclass", "dataclass-args", "typed-dict", "definition-ref"})


def _reads_attributes(schema: Any) -> bool:
    """Whether ``from_attributes=True`` (``ModelField.validate``'s) may change what ``schema`` validates:
    it has a model, a dataclass or a typed dict in it. Otherwise (an int, a str, a UUID, an enum, one of
    them or None) the validator is called without it: half the call's cost."""
    if isinstance(schema, dict):
        return schema.get("type") in _OBJECTS or any(_reads_attributes(value) for value in schema.values())
    if isinstance(schema, list | tuple):
        return any(_reads_attributes(value) for value in schema)
    return False


def _header(request: Request, key: bytes) -> str | None:
    for name, value in request.scope["headers"]:
        if name == key:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def _get(request: Request, where: tuple[Callable[[Request], Mapping[str, Any]], str]) -> Any:
    source, key = where
    return source(request).get(key)


def _simple(dependant: Dependant) -> bool:
    return not any(getattr(dependant, name, None) for name in _REFUSED)


def _async_function(call: Any) -> bool:
    # FastAPI also looks through __wrapped__ (a wrapped generator is a generator to it): refused.
    return inspect.isfunction(call) and inspect.iscoroutinefunction(call) and not hasattr(call, "__wrapped__")


def _node(dependant: Dependant) -> _Node | None:
    if not _simple(dependant) or dependant.call is None:
        return None
    subs = []
    for sub in dependant.dependencies:
        node = _node(sub) if _async_function(sub.call) else None
        if node is None:
            return None
        subs.append(node)
    params = _params(dependant)
    request_name = dependant.request_param_name
    read = _reader(params, request_name)
    return _Node(dependant.call, dependant.name, dependant.use_cache, tuple(subs), params, request_name, read)


def _own(node: _Node, request: Request, values: dict[str, Any], errors: list[Any]) -> None:
    """Adds ``node``'s own parameters (not its sub-dependencies') to ``values`` and ``errors``."""
    found = node.read(request)
    if found is not None:
        values.update(found)
        return
    for params in node.params:
        solved, wrong = request_params_to_args(params.fields, params.source(request))
        values.update(solved)
        errors.extend(wrong)
    if node.request_name is not None:
        values[node.request_name] = request


async def _solve(node: _Node, request: Request, cache: dict[Any, Any]) -> tuple[dict[str, Any], list[Any]]:
    """``node``'s arguments and errors, as ``fastapi.dependencies.utils.solve_dependencies`` finds them."""
    values: dict[str, Any] = {}
    errors: list[Any] = []
    for sub in node.subs:
        if sub.subs:
            arguments, wrong = await _solve(sub, request, cache)
        else:  # a leaf: its own parameters, without a coroutine of its own
            arguments, wrong = {}, []
            _own(sub, request, arguments, wrong)
        if wrong:
            errors.extend(wrong)
            continue
        # FastAPI's cache key is (call, security scopes, scope): the latter two are empty here.
        if sub.use_cache and sub.call in cache:
            solved = cache[sub.call]
        else:
            solved = await sub.call(**arguments)
        if sub.name is not None:
            values[sub.name] = solved
        if sub.call not in cache:
            cache[sub.call] = solved
    _own(node, request, values, errors)
    return values, errors


@dataclass(frozen=True, slots=True)
class Plan:
    """How to solve one ``Dependant``'s dependencies for a request, without FastAPI's solver."""

    root: _Node
    # The root's one dependency when it has no sub-dependencies (and the root nothing else), the
    # usual scope: ``only.read`` its arguments, or None when one is missing or invalid (``solve``
    # then gives FastAPI's errors); ``only.call`` them.
    only: _Node | None

    async def solve(self, request: Request) -> dict[str, Any]:
        """The values of the root's parameters; a ``RequestValidationError`` as FastAPI's handler raises it."""
        values, errors = await _solve(self.root, request, {})
        if errors:
            raise RequestValidationError(errors)
        return values


def _only_leaf(root: _Node) -> _Node | None:
    if len(root.subs) != 1 or root.params or root.request_name is not None or root.subs[0].subs:
        return None
    return root.subs[0]


def plan(dependant: Dependant) -> Plan | None:
    """A ``Plan`` for ``dependant``'s dependencies (the root itself is never called), or None: FastAPI's solver."""
    root = _node(dependant)
    return None if root is None else Plan(root, _only_leaf(root))


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters the dependencies of ``dependant`` read, under the names they are sent as.

    Their ``Query`` parameters (each name a parameter model or ``AliasChoices`` admits), and the
    parameter an ``APIKeyQuery`` reads; the endpoint's own parameters are not counted.
    """
    names: set[str] = set()
    for sub in dependant.dependencies:
        if isinstance(sub.call, APIKeyQuery):
            names.add(sub.call.model.name)
        for field in sub.query_params:
            names.update(_sent_as(field))
        names |= query_names(sub)
    return frozenset(names)


def _sent_as(field: Any) -> list[str]:
    """The names a query parameter is read under, as FastAPI's ``request_params_to_args`` reads it."""
    try:
        model = utils._get_param_model(field)
        if model is not None:  # Annotated[Filters, Query()]: each field of the model is a parameter
            return [_model_key(name, info) for name, info in model.model_fields.items()]
        return [key for _, key in utils._get_param_aliases(field)]
    except (AttributeError, TypeError, ValueError):  # another FastAPI: the field's own alias
        return [field.alias]


def _model_key(name: str, info: Any) -> str:
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return str(alias or name)
