"""The HTTP side of scopes (ormgate.scope): each request's scope, from the route's dependency to the resource.

A scoped route declares the resource's scope dependency as one more parameter
of its endpoint, so FastAPI runs it as any dependency (its own sub-dependencies,
its security scheme in the OpenAPI document, its 401) and the endpoint leaves the
``Scope`` it returned in the request for the resource's operations.
"""

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Annotated, Any

import pydantic
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError

from .model import ModelInfo
from .query import QueryParser
from .scope import Scope

# Where the scope is left, in the request's ASGI scope.
_KEY = "ormgate.scope"
_PARAMETER = "ormgate_scope"
_UNRESOLVED = object()


def with_scope(endpoint: Callable[..., Any], dependency: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` (which takes the ``request``) with ``dependency`` among its parameters."""
    signature = inspect.signature(endpoint)
    parameter = inspect.Parameter(
        _PARAMETER, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Any, Depends(dependency)]
    )

    async def scoped(**values: Any) -> Response:
        request: Request = values["request"]
        request.scope[_KEY] = values.pop(_PARAMETER)
        response: Response = await endpoint(**values)
        return response

    scoped.__signature__ = signature.replace(parameters=[*signature.parameters.values(), parameter])  # type: ignore[attr-defined]
    scoped.__name__ = endpoint.__name__
    return scoped


def request_scope(request: Request, info: ModelInfo, restricted: Collection[str] = ()) -> Scope | None:
    """The scope the route's dependency returned for ``request``: a ``Scope``, or None for every row."""
    found = request.scope.get(_KEY, _UNRESOLVED)
    if found is _UNRESOLVED:  # a route that lost its dependency must not serve every row
        raise RuntimeError(f"{info.name}: the scope dependency did not run for this route")
    if found is None:
        return None
    if not isinstance(found, Scope):
        raise TypeError(f"{info.name}: a scope dependency returns an ormgate.Scope or None, not {type(found).__name__}")
    found.check(info, restricted)
    return found


def where(scope: Scope | None) -> Mapping[str, Any] | None:
    """The conditions a store adds to its statement by key, or None."""
    return None if scope is None or not scope.where else scope.where


def fix(scope: Scope | None, body: pydantic.BaseModel, values: dict[str, Any], *, creating: bool) -> None:
    """Puts the scope's fixed values into ``values``; a different one the client sent is a 422, before any write.

    A create always gets them; an update where it writes the field (a PUT resetting it to its default).
    """
    if scope is None:
        return
    errors = []
    for name in sorted(set(scope.read_only) & body.model_fields_set):
        # A hidden field is one the request does not know: refused as any unknown field is.
        unknown = name in scope.hidden
        kind, message = ("extra_forbidden", "unknown field") if unknown else ("read_only", "field is read-only")
        errors.append({"type": kind, "loc": ("body", name), "msg": message})
    for name in scope.read_only:
        values.pop(name, None)  # a PUT does not reset what the request may not write either
    for name, fixed in scope.fixed.items():
        if name in body.model_fields_set and values.get(name) != fixed:
            # The value the scope wants is not told: it is the scope's, not the client's.
            errors.append({"type": "value_error", "loc": ("body", name), "msg": "not a value this request may write"})
        if creating or name in values:
            values[name] = fixed
    if errors:
        raise RequestValidationError(errors)


def visible(row: dict[str, Any], scope: Scope | None) -> dict[str, Any]:
    """``row`` without the fields ``scope`` hides."""
    if scope is None or not scope.hidden:
        return row
    return {name: value for name, value in row.items() if name not in scope.hidden}


def optional(read: type[pydantic.BaseModel], names: Collection[str]) -> type[pydantic.BaseModel]:
    """The read schema as documented when ``names`` may be hidden: the same fields, those not required."""
    if not names:
        return read

    def extra(schema: dict[str, Any]) -> None:
        required = [name for name in schema.get("required", []) if name not in names]
        schema["required"] = required
        if not required:
            del schema["required"]

    config = pydantic.ConfigDict(**{**read.model_config, "json_schema_extra": extra})
    namespace = {"model_config": config, "__module__": read.__module__, "__doc__": read.__doc__}
    return type(f"{read.__name__}Restricted", (read,), namespace)


def seen_by(check: Callable[[dict[str, Any]], None], scope: Scope | None) -> Callable[[dict[str, Any]], None]:
    """An If-Match ``check`` on the row as ``scope`` sees it: the ETag the request was given is of that row."""
    if scope is None or not scope.hidden:
        return check
    return lambda row: check(visible(row, scope))


def parser_without(base: QueryParser, hidden: frozenset[str], cursor_key: bytes | str | None) -> QueryParser:
    """``base`` for a request that does not know the ``hidden`` fields: their parameters are unknown ones."""
    return QueryParser(
        base.info,
        [name for name in base.readable if name not in hidden],
        filters={name: ops for name, ops in base.filters.items() if name not in hidden and name not in base.across},
        sortable=[name for name in base.sortable if name not in hidden],
        limits=base.limits,
        cursor_key=cursor_key,
        across=base.across,
    )
