"""``ormgate serve`` over Chinook, as the command line makes it (read-only, no token): the app under bench."""

from __future__ import annotations

from fastapi import FastAPI

from ormgate.serve import ServeOptions, create_app

from . import config
from .chinook_raw import NAME

URLS = {
    "sqlite": f"sqlite:///{config.SQLITE_DIR / f'{NAME}.sqlite3'}",
    "postgresql": f"postgresql+asyncpg://{config.POSTGRESQL_HOST}/{NAME}",
    "mysql": f"mysql+aiomysql://{config.MYSQL_HOST}/{NAME}?charset=utf8mb4",
}

app: FastAPI = create_app(ServeOptions(URLS[config.DATABASE]))
