"""The conformance models as SQLModel table models, served by the SQLAlchemy adapter.

The same tables as tests/conformance/models/sqlalchemy.py. Strings are SQLModel's own
``AutoString`` (a ``TypeDecorator``); a type SQLModel would choose differently from the
SQLAlchemy models is named with ``sa_type`` or ``sa_column``.
"""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import NaiveDatetime
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.models import Status, contract_app


class Category(SQLModel, table=True):
    __tablename__ = "categories"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)


class Item(SQLModel, table=True):
    __tablename__ = "items"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    description: str | None = Field(default=None, sa_type=sa.Text)
    quantity: int = 0
    big: int | None = Field(default=None, sa_type=sa.BigInteger)
    price: Decimal | None = Field(default=None, max_digits=10, decimal_places=2)
    weight: float | None = Field(default=None, sa_type=sa.Double)
    active: bool = True
    status: Status = Field(default=Status.draft, sa_type=sa.Enum(Status, native_enum=False, length=20))
    released: dt.date | None = None
    starts_at: dt.time | None = None
    seen_at: NaiveDatetime | None = None  # a column without a time zone, as in the other ORMs' models
    code: uuid.UUID | None = Field(default=None, unique=True)
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    created_at: NaiveDatetime = Field(sa_column_kwargs={"server_default": sa.func.current_timestamp()})
    enabled: bool = Field(sa_column_kwargs={"server_default": sa.true()})
    duration: dt.timedelta | None = None  # Interval
    payload: bytes | None = None  # LargeBinary
    document: Any = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class Arrays(SQLModel, table=True):
    """PostgreSQL's array columns: created on PostgreSQL only."""

    __tablename__ = "arrays"
    id: int | None = Field(default=None, primary_key=True)
    tags: list[str] | None = Field(default=None, sa_column=sa.Column(postgresql.ARRAY(sa.Text)))
    scores: list[int] = Field(sa_column=sa.Column(postgresql.ARRAY(sa.Integer), nullable=False))


class Ghost(SQLModel, table=True):
    """Mapped but never created: every request on it is an unexpected database error."""

    __tablename__ = "ghosts"
    id: int | None = Field(default=None, primary_key=True)


def create_app(url: str) -> FastAPI:
    arrays = Arrays if url.startswith("postgresql") else None
    return contract_app("sqlalchemy", SQLAlchemyAdapter(create_engine(url)), Category, Item, Ghost, arrays)
