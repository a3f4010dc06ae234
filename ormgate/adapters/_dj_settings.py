"""Django's settings for ormgate: a SQLAlchemy-style URL becomes a ``DATABASES`` entry, an alias.

``setup`` makes Django usable (minimal settings standalone, a project's own otherwise);
``configure`` adds an alias per database URL, so that apps on several databases run side by
side in one process. Both are imported from ``ormgate.adapters.django``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import django
from django.apps import apps
from django.conf import ENVIRONMENT_VARIABLE, settings
from django.db import DEFAULT_DB_ALIAS, connections

from .base import IN_MEMORY_SQLITE, memory_sqlite


def _pymysql_as_mysqldb() -> None:
    # Django's MySQL backend imports MySQLdb (mysqlclient), a C extension that needs the MySQL
    # client headers to build. PyMySQL implements the same DB-API in pure Python and stands in
    # under that name; it reports a mysqlclient-style version_info (2.2.x), which is what Django's
    # "mysqlclient 1.4.3 or newer" check reads. Widely used, but Django's own CI runs mysqlclient
    # only. A process has one MySQLdb: an already imported mysqlclient is kept.
    if "MySQLdb" not in sys.modules:
        import pymysql

        pymysql.install_as_MySQLdb()


@dataclass(frozen=True)
class _Backend:
    engine: str
    drivers: Mapping[str, Callable[[], None] | None]  # the URL's "+driver" -> what to prepare first
    options: Mapping[str, Any]
    file: bool = False


_MYSQL = _Backend(
    "django.db.backends.mysql",
    {"": None, "mysqldb": None, "pymysql": _pymysql_as_mysqldb},
    # Strict mode: a value that does not fit is an error, never silently truncated.
    {"charset": "utf8mb4", "init_command": "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"},
)
_POSTGRESQL = _Backend("django.db.backends.postgresql", {"": None, "psycopg": None, "psycopg2": None}, {})
# IMMEDIATE: a transaction takes SQLite's write lock when it begins, so a read-check-write
# waits its turn instead of failing with "database is locked" when it comes to write.
_SQLITE = _Backend("django.db.backends.sqlite3", {"": None, "pysqlite": None}, {"transaction_mode": "IMMEDIATE"}, True)
_BACKENDS = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL, "postgres": _POSTGRESQL, "mysql": _MYSQL, "mariadb": _MYSQL}
# Connections live on in their worker thread (CONN_MAX_AGE) and are pinged before the first
# query of each unit of work (CONN_HEALTH_CHECKS), so one the server dropped is replaced.
_CONNECTIONS = {"CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}


def database_settings(url: str) -> dict[str, Any]:
    """The Django ``DATABASES`` entry for a SQLAlchemy-style URL, e.g. ``postgresql+psycopg://u@host/db``."""
    parts = urlsplit(url)
    scheme, _, driver = parts.scheme.partition("+")
    backend = _BACKENDS.get(scheme)
    if backend is None or driver not in backend.drivers:
        raise ValueError(f"the Django adapter opens {', '.join(_BACKENDS)} URLs (sync drivers), not {parts.scheme!r}")
    name = unquote(parts.path[1:])  # sqlite:///relative.db, sqlite:////absolute.db, scheme://host/name
    if backend.file and memory_sqlite(name + (f"?{parts.query}" if parts.query else "")):
        raise ValueError(IN_MEMORY_SQLITE)
    prepare = backend.drivers[driver]
    if prepare is not None:
        prepare()
    host = {"HOST": parts.hostname or "", "PORT": str(parts.port or "")}
    user = {"USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or "")}
    return {"ENGINE": backend.engine, "NAME": name, **host, **user, "OPTIONS": dict(backend.options), **_CONNECTIONS}


_settings_lock = threading.Lock()


def setup(*, installed_apps: Sequence[str] = ()) -> None:
    """Make Django usable: call it before declaring models, which need the app registry.

    Standalone, it configures minimal settings with ``installed_apps`` (the apps your
    models relate to, ``django.contrib.auth`` for its ``User``); in a Django project
    (``DJANGO_SETTINGS_MODULE`` set) the project's settings are used. Apps cannot be
    added once settings are made: asking for one that is missing is a ``ValueError``.
    """
    with _settings_lock:
        if not settings.configured and ENVIRONMENT_VARIABLE not in os.environ:
            # No default database: configure() adds an alias per URL. Naive datetimes as the
            # other ORMs return them; UTC is what Django sets as PostgreSQL's session time zone.
            settings.configure(DATABASES={}, INSTALLED_APPS=list(installed_apps), USE_TZ=False, TIME_ZONE="UTC")
        missing = [app for app in installed_apps if app not in settings.INSTALLED_APPS]
        if missing:
            raise ValueError(
                f"Django's settings are already made without {', '.join(missing)}: "
                "name every app in the first setup(installed_apps=...), before any model is declared"
            )
        if not apps.ready:
            django.setup()


def configure(database_url: str, *, alias: str | None = None) -> str:
    """The database alias serving ``database_url``, added to Django's connections if new."""
    config = database_settings(database_url)
    setup()
    with _settings_lock:
        databases = connections.settings
        for name, known in databases.items():
            same = all(known.get(key) == config[key] for key in ("ENGINE", "NAME", "HOST", "PORT", "USER"))
            if same and alias in (None, name):
                return name
        alias = alias or f"ormgate_{len(databases)}"
        if alias in databases:
            raise ValueError(f"database alias {alias!r} is already configured for another database")
        # Django fills in the settings it defaults (AUTOCOMMIT, TIME_ZONE, TEST, ...).
        filled = connections.configure_settings({DEFAULT_DB_ALIAS: databases[DEFAULT_DB_ALIAS], alias: config})
        databases[alias] = filled[alias]
    return alias
