"""The conformance models on SQLAlchemy: the same tables every ORM's module declares."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.models import Status, contract_app, scoped_app


class Base(DeclarativeBase):
    pass


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text)
    quantity: Mapped[int] = mapped_column(default=0)
    big: Mapped[int | None] = mapped_column(sa.BigInteger)
    price: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 2))
    weight: Mapped[float | None] = mapped_column(sa.Double)
    active: Mapped[bool] = mapped_column(default=True)
    status: Mapped[Status] = mapped_column(sa.Enum(Status, native_enum=False, length=20), default=Status.draft)
    released: Mapped[dt.date | None]
    starts_at: Mapped[dt.time | None]
    seen_at: Mapped[dt.datetime | None]
    code: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.current_timestamp())
    enabled: Mapped[bool] = mapped_column(server_default=sa.true())
    duration: Mapped[dt.timedelta | None]  # Interval
    payload: Mapped[bytes | None]  # LargeBinary
    document: Mapped[Any] = mapped_column(sa.JSON, nullable=True)


class Arrays(Base):
    """PostgreSQL's array columns: created on PostgreSQL only."""

    __tablename__ = "arrays"
    id: Mapped[int] = mapped_column(primary_key=True)
    tags: Mapped[list[str] | None] = mapped_column(postgresql.ARRAY(sa.Text))
    scores: Mapped[list[int]] = mapped_column(postgresql.ARRAY(sa.Integer))


class Ghost(Base):
    """Mapped but never created: every request on it is an unexpected database error."""

    __tablename__ = "ghosts"
    id: Mapped[int] = mapped_column(primary_key=True)


def create_app(url: str) -> FastAPI:
    arrays = Arrays if url.startswith("postgresql") else None
    return contract_app("sqlalchemy", SQLAlchemyAdapter(create_engine(url)), Category, Item, Ghost, arrays)


def audit(unit: Any, name: str) -> None:
    unit.execute(sa.insert(sa.table("categories", sa.column("name"))).values(name=name))


def create_scoped_app(url: str) -> FastAPI:
    return scoped_app("sqlalchemy", SQLAlchemyAdapter(create_engine(url)), Category, Item, audit)
