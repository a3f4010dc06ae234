"""The ``ormgate`` command: demo, openapi, routes."""

from __future__ import annotations

import importlib
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .adapters import ADAPTERS

app = typer.Typer(help="FastAPI resources for SQLAlchemy, Django and Peewee models.", no_args_is_help=True)
console = Console()

DEMO_DATABASE = "sqlite:///./ormgate-demo.sqlite3"


def _users_app(orm: str, database: str) -> Any:
    if orm not in ADAPTERS:
        raise typer.BadParameter(f"choose from {', '.join(ADAPTERS)}", param_hint="--orm")
    module = importlib.import_module(f"examples.users.{orm}_app")
    return module.create_app(database)


@app.command()
def demo(
    orm: Annotated[str, typer.Option(help="sqlalchemy, django or peewee")] = "sqlalchemy",
    database: Annotated[str, typer.Option(help="SQLAlchemy-style URL, the same for every ORM")] = DEMO_DATABASE,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the users service (examples/users), creating its table if absent."""
    import uvicorn

    api = _users_app(orm, database)
    console.print(f"[bold]ormgate demo[/]: users API on [cyan]{orm}[/] / [cyan]{database}[/]")
    console.print(f"  API   http://{host}:{port}/users")
    console.print(f"  docs  http://{host}:{port}/docs")
    uvicorn.run(api, host=host, port=port, log_level="warning")


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    loaded = getattr(importlib.import_module(module_name), attr or "app")
    return loaded() if callable(loaded) and not hasattr(loaded, "openapi") else loaded


@app.command()
def openapi(target: Annotated[str, typer.Argument(help="module:app, or module:factory")]) -> None:
    """Print the OpenAPI document of an app."""
    typer.echo(json.dumps(_load(target).openapi(), indent=2))


@app.command()
def routes(target: Annotated[str, typer.Argument(help="module:app, or module:factory")]) -> None:
    """List an app's routes."""
    table = Table("methods", "path", "name")
    for route in _load(target).routes:
        methods = ",".join(sorted(getattr(route, "methods", None) or []))
        table.add_row(methods, getattr(route, "path", ""), getattr(route, "name", ""))
    console.print(table)
