"""The models a docs page's fragments take as given (``Item``, ``User``), for tests/unit/test_docs_run.py,
and the unit tests' ``Note``.

A page brings them in with a hidden ``<!-- docs-test code: ... -->`` before its first block.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    price: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.current_timestamp())


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.current_timestamp())


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(20))
    rank: Mapped[int] = mapped_column(default=0)


def notes(folder: Path) -> SQLAlchemyAdapter:
    """An adapter on a SQLite file in ``folder``, with the tables made (notes among them)."""
    engine = sa.create_engine(f"sqlite:///{folder / 'notes.sqlite3'}")
    Base.metadata.create_all(engine)
    return SQLAlchemyAdapter(engine)


def shop_engine() -> sa.Engine:
    """A SQLite file in the current directory, with the tables made."""
    engine = sa.create_engine("sqlite:///shop.sqlite3")
    Base.metadata.create_all(engine)
    return engine
