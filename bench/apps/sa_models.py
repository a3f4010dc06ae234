"""The benchmark tables as SQLAlchemy 2 models, and the Pydantic schemas the tutorials write by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class _UserColumns:
    """The users table's columns, declared once for both mappings of it below."""

    __tablename__ = "users"
    # created_at comes back from the INSERT's RETURNING where the database has it.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    age: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.current_timestamp(), index=True)


class User(_UserColumns, Base):
    pass


class TenantBase(DeclarativeBase):
    pass


class TenantUser(_UserColumns, TenantBase):
    """The same table with its ``tenant`` column, for the scoped workloads (bench/apps/scoped.py)."""

    tenant: Mapped[int] = mapped_column(server_default="1")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.current_timestamp())
    # Many-to-one; no reverse on User, whose resource and schemas stay as they were.
    author: Mapped[User] = relationship()


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    full_name: str
    age: int
    created_at: datetime


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int
    title: str
    body: str
    created_at: datetime


class PostWithAuthor(PostRead):
    author: UserRead


class UserCreate(BaseModel):
    username: str
    email: str
    full_name: str
    age: int


class UserUpdate(BaseModel):
    username: str | None = None
    email: str | None = None
    full_name: str | None = None
    age: int | None = None


SORTABLE = {name: getattr(User, name) for name in ("id", "username", "email", "full_name", "age", "created_at")}


def order_by(sort: str) -> list[sa.UnaryExpression[Any]]:
    """``?sort=[-]field`` as an ORDER BY with the id as tiebreaker, like every contender."""
    column = SORTABLE[sort.removeprefix("-")]
    first = column.desc() if sort.startswith("-") else column.asc()
    return [first] if column is User.id else [first, User.id.asc()]
