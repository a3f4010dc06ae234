"""The HTTP side of scopes (ormgate.scope): each request's scope, from the route's dependency to the resource.

A scoped route declares the resource's scope dependency, and those of the
resources its includes name (ormgate.relations), as more parameters of its
endpoint, so FastAPI documents them as any dependency (a security scheme in the
OpenAPI document) and, on FastAPI's own handler, runs them and the endpoint
leaves the ``Scope`` each returned in the request for the resource's operations.
The lean route (``ormgate.routes.LeanRoute``) runs the dependencies alone with
FastAPI's own solver (``solving``): their sub-dependencies, their cache, a 401,
``app.dependency_overrides`` and the teardown of ``yield`` dependencies are
FastAPI's, and the rest of the request is parsed as on an unscoped route. A
dependency of the simple kind ``ormgate.solver`` describes (``async def``
functions reading the request's headers, query and cookies) is solved by that
module's plan instead, the same way at a fraction of the cost, while no
override is set.
"""

import inspect
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Annotated, Any, NamedTuple

import pydantic
from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant, solve_dependencies
from fastapi.exceptions import FastAPIError, RequestValidationError
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as ASGIScope

from .model import ModelInfo
from .query import QueryParser
from .scope import Scope
from .solver import Plan, plan

# Where the scope is left, in the request's ASGI scope.
_KEY = "ormgate.scope"
PARAMETER = "ormgate_scope"
_UNRESOLVED = object()
_NOTHING: Mapping[Any, Any] = {}
# Where FastAPI's request_response leaves the exit stacks of yield dependencies (request and
# function scoped), which solve_dependencies requires: the lean route sets them alike.
_REQUEST_STACK = "fastapi_inner_astack"
_FUNCTION_STACK = "fastapi_function_astack"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _names(dependencies: Sequence[object]) -> list[str]:
    """The endpoint parameters of scope dependencies: ``ormgate_scope``, ``ormgate_scope_1``, ..."""
    return [PARAMETER if i == 0 else f"{PARAMETER}_{i}" for i in range(len(dependencies))]


def _parameters(dependencies: Sequence[Callable[..., Any]]) -> list[inspect.Parameter]:
    kind = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(name, kind, annotation=Annotated[Any, Depends(dependency)])
        for name, dependency in zip(_names(dependencies), dependencies, strict=True)
    ]


def with_scope(endpoint: Callable[..., Any], dependencies: Sequence[Callable[..., Any]]) -> Callable[..., Any]:
    """``endpoint`` (which takes the ``request``) with the scope ``dependencies`` among its parameters.

    The first is the resource's own; the others those of the resources its includes name.
    """
    signature = inspect.signature(endpoint)
    names = _names(dependencies)

    async def scoped(**values: Any) -> Response:
        request: Request = values["request"]
        request.scope[_KEY] = {dep: values.pop(name) for dep, name in zip(dependencies, names, strict=True)}
        response: Response = await endpoint(**values)
        return response

    parameters = [*signature.parameters.values(), *_parameters(dependencies)]
    scoped.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    scoped.__name__ = endpoint.__name__
    scoped.__dict__["ormgate_scope"] = tuple(dependencies)
    return scoped


def only_scope(dependant: Dependant) -> bool:
    """Whether the scope dependencies are a route's only ones (none of a router's, an app's)."""
    names = [sub.name for sub in dependant.dependencies]
    return names == _names(names)


def solving(lean: Handler, dependencies: Sequence[Callable[..., Any]], path: str, overrides: Any) -> Handler:
    """``lean`` after ``dependencies`` are solved alone, as FastAPI's handler would among the endpoint's parameters.

    By ``ormgate.solver``'s plan when they have one and no override is set (or the request has
    no exit stacks: ``serving`` left them out for the plan); otherwise by FastAPI's solver,
    which needs the exit stacks in the request (``with_stacks``, or FastAPI's
    request_response). A problem a dependency raises (a 401) or its parameters' 422 comes
    before the route's own.
    """

    dependant = _dependant(dependencies, path)
    fast = plan(dependant)
    names = _names(dependencies)
    keyed = list(zip(dependencies, names, strict=True))
    only = None if fast is None else fast.only

    async def scoped(request: Request) -> Response:
        # Without the exit stacks (``serving``'s fast path) nothing needs them: the plan runs.
        if fast is not None and (_REQUEST_STACK not in request.scope or not _overridden(overrides)):
            if only is not None:  # one dependency of the plain kind: its arguments, if all valid
                arguments = only.read(request)
                if arguments is not None:
                    request.scope[_KEY] = {only.call: await only.call(**arguments)}
                    return await lean(request)
            values = await fast.solve(request)
            request.scope[_KEY] = {dep: values[name] for dep, name in keyed}
            return await lean(request)
        solved = await solve_dependencies(
            request=request,
            dependant=dependant,
            dependency_overrides_provider=overrides,
            async_exit_stack=request.scope[_REQUEST_STACK],
            embed_body_fields=False,
        )
        if solved.errors:
            raise RequestValidationError(solved.errors)
        request.scope[_KEY] = {dep: solved.values[name] for dep, name in keyed}
        response = await lean(request)
        if response.background is None:  # a dependency's BackgroundTasks, as FastAPI's handler runs them
            response.background = solved.background_tasks
        return response

    if only is not None:  # ``serving`` runs that branch itself where nothing wraps this handler
        scoped.__dict__["ormgate_direct"] = _Direct(only.read, only.call, lean)
    return scoped


class _Direct(NamedTuple):
    """``solving``'s branch for the usual scope: ``read`` the dependency's arguments (None: not all
    valid), ``call`` it with them, then the ``lean`` handler."""

    read: Callable[[Request], dict[str, Any] | None]
    call: Callable[..., Any]
    lean: Handler


def _dependant(dependencies: Sequence[Callable[..., Any]], path: str) -> Dependant:
    """FastAPI's ``Dependant`` of an endpoint whose parameters are the scope ``dependencies``."""

    def scope_only(**values: Any) -> Any:
        return values  # documents nothing and is never called: only solved

    scope_only.__signature__ = inspect.Signature(_parameters(dependencies))  # type: ignore[attr-defined]
    return get_dependant(path=path, call=scope_only)


def _overridden(provider: Any) -> bool:
    """Whether FastAPI's solver would look up overrides (any at all), as it asks on every request."""
    return bool(provider and provider.dependency_overrides)


def serving(handler: Handler, route: Any) -> ASGIApp:
    """The ASGI app of a scoped lean ``route``: ``handler`` with the exit stacks, or without when not needed.

    A dependency with a ``Plan`` needs none (no ``yield`` in it) while no override is set;
    otherwise FastAPI's solver runs, within the stacks (``with_stacks``). When ``handler`` is
    ``solving``'s own, unwrapped (a GET, a DELETE: no body, no query to tell), the usual scope's
    branch of it runs here: one coroutine less a request (a tenth of a scope's cost).
    """
    stacked = with_stacks(handler)
    fast: Plan | None = plan(_dependant(route.endpoint.__dict__["ormgate_scope"], route.path_format))
    if fast is None:
        return stacked
    overrides = route.dependency_overrides_provider
    direct: _Direct | None = getattr(handler, "ormgate_direct", None)

    async def app(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if overrides and overrides.dependency_overrides:  # _overridden, without a call: every request
            await stacked(scope, receive, send)
            return
        request = Request(scope, receive, send)
        if direct is not None and (arguments := direct.read(request)) is not None:
            scope[_KEY] = {direct.call: await direct.call(**arguments)}
            response = await direct.lean(request)
        else:
            response = await handler(request)
        await response(scope, receive, send)

    return app


def with_stacks(handler: Handler) -> ASGIApp:
    """``handler`` as an ASGI app with the exit stacks of yield dependencies, closed as FastAPI closes them.

    Function-scoped ones before the response is sent, request-scoped ones after; an exception
    passes through both (a dependency sees it) to the app's handlers.
    """

    async def app(scope: ASGIScope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        sent = False
        async with AsyncExitStack() as request_stack:
            scope[_REQUEST_STACK] = request_stack
            async with AsyncExitStack() as function_stack:
                scope[_FUNCTION_STACK] = function_stack
                response = await handler(request)
            await response(scope, receive, send)
            sent = True
        if not sent:  # as FastAPI: a yield dependency swallowed the exception of the request
            raise FastAPIError("Response not awaited: a dependency with yield caught an exception and did not raise it")

    return app


def request_scope(
    request: Request, dependency: Callable[..., Any], info: ModelInfo, restricted: Collection[str] = ()
) -> Scope | None:
    """The scope ``dependency`` returned for ``request``: a ``Scope``, or None for every row."""
    found = request.scope.get(_KEY, _NOTHING).get(dependency, _UNRESOLVED)
    # The usual scope, asked on every scoped request: ``Scope.check``'s test without a call.
    if type(found) is Scope and found.values is None and not found.hidden:
        known = info.by_name
        for name in found.where:
            if name not in known:
                break  # check() says which
        else:
            return found
    if found is None:
        return None
    if not isinstance(found, Scope):
        if found is _UNRESOLVED:  # a route that lost its dependency must not serve every row
            raise RuntimeError(f"{info.name}: the scope dependency did not run for this route")
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
    """``base`` for a request that does not know the ``hidden`` fields: their parameters are unknown ones.

    ``hidden`` may name filters across relations (``author__email``) whose field a related scope hides.
    """
    return QueryParser(
        base.info,
        [name for name in base.readable if name not in hidden],
        filters={name: ops for name, ops in base.filters.items() if name not in hidden and name not in base.across},
        sortable=[name for name in base.sortable if name not in hidden],
        limits=base.limits,
        cursor_key=cursor_key,
        across={path: target for path, target in base.across.items() if path not in hidden},
    )
