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


def _users_app(orm: str, url: str, auth: bool = False) -> Any:
    require("pwdlib", "users", "the demo's password hashing (pwdlib)")
    if auth:
        require("jwt", "users", "the demo's tokens (PyJWT)")
        require("multipart", "users", "the demo's sign-in form (python-multipart)")
    module = importlib.import_module(f"ormgate.demo.{orm}_app")
    try:
        return module.create_app(url, auth=True) if auth else module.create_app(url)
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
    auth: Annotated[
        bool, typer.Option("--auth", help="POST /token signs in; PUT, PATCH, DELETE change one's own account only")
    ] = False,
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
        api = _users_app(orm.value, db.url, auth)
    except Problem as problem:
        sock.close()
        fail(problem)
    shown = escape(f"[{host}]" if ":" in host else host)
    console.print(
        f"[bold]ormgate demo[/]: users API on [cyan]{orm.value}[/] / [cyan]{escape(db.shown)}[/] ({db.dialect.label})"
    )
    console.print(f"  API   http://{shown}:{port}/users")
    console.print(f"  docs  http://{shown}:{port}/docs")
    if auth:
        console.print(f"  token http://{shown}:{port}/token (username, password)")
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


# -- serve: an API over an existing database ------------------------------------------------------


def _names(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise Problem("--tables / --exclude-tables name no table", "give a comma-separated list: --tables Album,Artist")
    return names


def _summary(api: Any, db_shown: str, label: str, base: str, checked: str | None, workers: int) -> None:
    from .serve import Served

    table = Table("table", "path", "rows (est.)", "access", "notes", title=f"ormgate serve: {db_shown} ({label})")
    for served in api.served:
        assert isinstance(served, Served)
        access = "[green]read-write[/]" if served.writable else "read-only"
        notes = []
        if served.list_only:
            notes.append(f"list-only: {served.list_only}")
        if len(served.key) > 1:
            notes.append("composite key: " + served.path + "".join(f"/{{{k}}}" for k in served.key))
        if served.references:
            notes.append("FK " + ", ".join(f"{c} -> {t}" for c, t in served.references.items()))
        rows = "-" if served.rows is None else f"{served.rows:,}"
        table.add_row(escape(served.table), escape(served.path), rows, access, escape("; ".join(notes)))
    console.print(table)
    if api.skipped:
        skipped = Table("skipped", "reason", title="not served")
        for item in api.skipped:
            skipped.add_row(escape(item.name), escape(item.reason))
        console.print(skipped)
    if checked:
        console.print(f"  access: a bearer JWT ({escape(checked)}) on every request; writes need its write claim")
    else:
        console.print(
            "[bold red]  access: OPEN - no ORMGATE_JWT_SECRET or JWKS URL, anyone who reaches this port can read[/]"
        )
    console.print(f"  API   {base}/<table>   ({len(api.served)} resources, {workers} worker(s))")
    console.print(f"  docs  {base}/docs")


@app.command()
def serve(
    database: Annotated[str, typer.Option(help="the database to serve: sqlite:///file, postgresql://…, mysql://…")],
    schema: Annotated[str | None, typer.Option(help="the schema to reflect (default: the connection's)")] = None,
    tables: Annotated[str | None, typer.Option(help="only these tables/views, comma-separated")] = None,
    exclude_tables: Annotated[str | None, typer.Option(help="every table/view but these, comma-separated")] = None,
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="serve POST, PUT, PATCH and DELETE (read-only without it)")
    ] = False,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (uvicorn's process manager)")] = 1,
    max_limit: Annotated[int | None, typer.Option(min=1, help="the largest ?limit= a list accepts")] = None,
    jwks_url: Annotated[
        str | None,
        typer.Option(envvar="ORMGATE_JWKS_URL", help="verify bearer JWTs with the keys published at this URL"),
    ] = None,
) -> None:
    """Serve an existing database as a REST API: one resource per table, read-only unless --allow-writes."""
    import uvicorn
    from rich.progress import Progress

    try:
        if tables is not None and exclude_tables is not None:
            raise Problem("give --tables or --exclude-tables, not both")
        db = parse(database)
        check_drivers(db, "sqlalchemy")
        if db.dialect.name == "sqlite" and not os.path.isfile(db.database):
            # SQLite would make an empty file: serve is for a database that exists.
            raise Problem(
                f"no SQLite database at {db.database!r}",
                "sqlite:///relative/path or sqlite:////absolute/path, to a file that exists",
            )
        if os.environ.get("ORMGATE_JWT_SECRET") and jwks_url:
            raise Problem("give ORMGATE_JWT_SECRET or --jwks-url (ORMGATE_JWKS_URL), not both")
        if os.environ.get("ORMGATE_JWT_SECRET") or jwks_url:
            require("jwt", "serve", "PyJWT (bearer tokens, as ORMGATE_JWT_SECRET or --jwks-url asks)")
        if jwks_url:
            require("cryptography", "jwks", "cryptography (public-key JWTs, as --jwks-url asks)")
        import sqlalchemy

        from . import serve as serving
        from . import serve_auth as access

        options = serving.ServeOptions(
            database=db.url,
            schema=schema,
            tables=_names(tables),
            exclude_tables=_names(exclude_tables) or (),
            allow_writes=allow_writes,
            max_limit=max_limit,
        )
        sock = listen(host, port)
    except Problem as problem:
        fail(problem)
    try:
        connect(db)
        key = serving.shared_cursor_key()  # before any worker starts: they all sign cursors with it
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("reflecting", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"reflecting {done}/{total} tables")

            api = serving.build(options, cursor_key=key, progress=advance, count_rows=True)
    except Problem as problem:
        sock.close()
        fail(problem)
    except (ValueError, sqlalchemy.exc.SQLAlchemyError) as exc:
        sock.close()
        fail(Problem(f"cannot reflect {db.shown}: {exc}"))
    if not api.served:
        sock.close()
        fail(Problem(f"nothing to serve in {db.shown}", "no table or view was found, or every one was skipped"))
    secret = os.environ.get(access.JWT_SECRET_ENV)
    checked = f"HS256, {access.JWT_SECRET_ENV}" if secret else f"keys from {jwks_url}" if jwks_url else None
    shown = escape(f"[{host}]" if ":" in host else host)
    _summary(api, escape(db.shown), db.dialect.label, f"http://{shown}:{port}", checked, workers)
    if jwks_url:  # the workers read it there
        os.environ[access.JWKS_URL_ENV] = jwks_url
    if workers == 1:
        access.secure(api.app, secret, jwks_url=jwks_url)
        server = uvicorn.Server(uvicorn.Config(api.app, log_level="warning"))
        server.run(sockets=[sock])
        return
    # uvicorn's own process manager: each worker makes the app with the factory, from the environment.
    sock.close()
    if isinstance(api.engine, sqlalchemy.Engine):
        api.engine.dispose()
    os.environ[serving.OPTIONS_ENV] = options.to_json()
    uvicorn.run("ormgate.serve:serve_factory", factory=True, host=host, port=port, workers=workers, log_level="warning")
