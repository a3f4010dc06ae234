"""The ``ormgate`` command: demo, openapi, routes.

A user error (a URL that does not parse, a missing driver, a database that does not answer,
a busy port, a module that is not there) is a line or two on stderr and exit status 1, never
a traceback: see docs/cli.md.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import sys
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from ._cli_checks import Problem, check_drivers, connect, listen, parse, require

# No locals in a traceback: they would show database URLs, passwords included. Usage errors
# as click prints them (usage, then "Error: ..."), not in a box drawn across the terminal.
app = typer.Typer(
    help="FastAPI resources for SQLAlchemy, Django and Peewee models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True)  # a URL in the banner stays on one line

DEMO_DATABASE = "sqlite:///./ormgate-demo.sqlite3"


class Orm(StrEnum):
    sqlalchemy = "sqlalchemy"
    django = "django"
    peewee = "peewee"


def fail(problem: Problem) -> NoReturn:
    typer.echo(f"error: {problem.message}", err=True)
    if problem.hint:
        typer.echo(f"  {problem.hint}", err=True)
    raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ormgate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """FastAPI resources for SQLAlchemy, Django and Peewee models."""


def _users_app(orm: str, url: str) -> Any:
    require("pwdlib", "users", "the demo's password hashing (pwdlib)")
    module = importlib.import_module(f"ormgate.demo.{orm}_app")
    try:
        return module.create_app(url)
    except ValueError as exc:  # what an adapter refuses in a URL (an in-memory SQLite, ...)
        raise Problem(str(exc)) from None


@app.command()
def demo(
    orm: Annotated[Orm, typer.Option(help="the ORM serving the users table")] = Orm.sqlalchemy,
    database: Annotated[
        str, typer.Option(help="a URL, the same for every ORM: sqlite:///file, postgresql://…, mysql://…")
    ] = DEMO_DATABASE,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the users service (ormgate/demo), creating its table if absent."""
    import uvicorn

    try:
        db = parse(database)
        check_drivers(db, orm.value)
        sock = listen(host, port)
    except Problem as problem:
        fail(problem)
    try:
        connect(db)
        api = _users_app(orm.value, db.url)
    except Problem as problem:
        sock.close()
        fail(problem)
    shown = escape(f"[{host}]" if ":" in host else host)
    console.print(
        f"[bold]ormgate demo[/]: users API on [cyan]{orm.value}[/] / [cyan]{escape(db.shown)}[/] ({db.dialect.label})"
    )
    console.print(f"  API   http://{shown}:{port}/users")
    console.print(f"  docs  http://{shown}:{port}/docs")
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning"))
    server.run(sockets=[sock])


# -- openapi, routes: an app found as uvicorn finds it -------------------------------------------


def _call(expression: str, target: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``create_app('sqlite:///x', debug=True)`` -> the name and its literal arguments."""
    try:
        call = ast.parse(expression, mode="eval").body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name | ast.Attribute):
            raise ValueError
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        if len(kwargs) != len(call.keywords):
            raise ValueError
    except (SyntaxError, ValueError):
        raise Problem(
            f"cannot read the factory call in {target!r}",
            "write module:factory(arguments), with literal arguments: 'main:create_app(\"sqlite:///app.db\")'",
        ) from None
    return ast.unparse(call.func), args, kwargs


def _is_app(value: Any) -> bool:
    return not isinstance(value, type) and hasattr(value, "openapi") and hasattr(value, "routes")


def load(target: str, *, factory: bool = False, app_dir: str = ".") -> Any:
    """The app ``target`` names: ``module:attribute``, ``module:factory`` (with ``factory``) or a call."""
    module_name, _, attribute = target.partition(":")
    attribute = attribute or "app"
    if not module_name:
        raise Problem(f"cannot read the app {target!r}", "expected module:attribute, e.g. main:app")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    called = "(" in attribute
    if called:
        attribute, args, kwargs = _call(attribute, target)
    folder = os.path.abspath(app_dir)
    sys.path.insert(0, folder)  # as uvicorn does: the current directory first
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            raise Problem(f"no module {module_name!r} in {folder} or on the Python path") from None
        raise Problem(f"importing {module_name!r} failed: {exc}") from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            apps = sorted(n for n, v in vars(module).items() if _is_app(v))
            hint = f"it has: {', '.join(apps)}" if apps else None
            raise Problem(f"module {module_name!r} has no attribute {attribute!r}", hint)
        found = getattr(found, part)
    if factory or called:
        if not callable(found):
            raise Problem(f"{module_name}:{attribute} is not callable, so not an app factory", "drop --factory")
        found = found(*args, **kwargs)
    if not _is_app(found):
        if callable(found) and not factory:
            raise Problem(
                f"{module_name}:{attribute} is a function, not a FastAPI app", "if it makes one, add --factory"
            )
        raise Problem(f"{target} is a {type(found).__name__}, not a FastAPI app")
    return found


Target = Annotated[str, typer.Argument(help="module:app, module:factory with --factory, or module:factory(args)")]
Factory = Annotated[bool, typer.Option("--factory", help="the target is a function that makes the app")]
AppDir = Annotated[str, typer.Option("--app-dir", help="where to look for the module first")]


@app.command()
def openapi(target: Target, factory: Factory = False, app_dir: AppDir = ".") -> None:
    """Print the OpenAPI document of an app."""
    try:
        api = load(target, factory=factory, app_dir=app_dir)
    except Problem as problem:
        fail(problem)
    typer.echo(json.dumps(api.openapi(), indent=2))


@app.command()
def routes(target: Target, factory: Factory = False, app_dir: AppDir = ".") -> None:
    """List an app's routes."""
    try:
        api = load(target, factory=factory, app_dir=app_dir)
    except Problem as problem:
        fail(problem)
    table = Table("methods", "path", "name")
    for route in api.routes:
        methods = ",".join(sorted(getattr(route, "methods", None) or []))
        table.add_row(methods, getattr(route, "path", ""), getattr(route, "name", ""))
    console.print(table)
