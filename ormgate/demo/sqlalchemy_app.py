"""The users service on SQLAlchemy 2.x: sync or async, picked by the database URL."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from starlette.concurrency import run_in_threadpool

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from .common import (
    GENERATED_ROUTES,
    LIMITS,
    SCHEMA_OPTIONS,
    blog_resources,
    id_parameter,
    install_auth,
    new_app,
    route_docs,
)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    # Server defaults come back in the INSERT's RETURNING where the database has it.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 (SQLAlchemy reads a plain dict)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=sa.func.current_timestamp())
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class PostTag(Base):
    """Which tags a post has: mapped with a key of its own, so that ?include=tags can read it."""

    __tablename__ = "post_tags"
    __table_args__ = (sa.UniqueConstraint("post_id", "tag_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id"))
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("tags.id"))


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    posts: Mapped[list["Post"]] = relationship(secondary="post_tags", back_populates="tags")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    author: Mapped[User] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary="post_tags", back_populates="posts")


def create_engine(url: str) -> sa.Engine | Any:
    if sa.make_url(url).get_dialect().is_async:
        return create_async_engine(url)
    return sa.create_engine(url)


def create_app(database_url: str, *, create_tables: bool = True, auth: bool = False) -> FastAPI:
    engine = create_engine(database_url)
    db = SQLAlchemyAdapter(engine)
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    readable = [getattr(User, name) for name in schemas.read_fields]
    app = new_app("sqlalchemy", (lambda: db.create_tables([User, Tag, Post, PostTag])) if create_tables else None, db)

    # The hand-written part, on the session and schema layers. Both endpoints
    # are plain functions of a Session; an async engine runs them with run_sync.
    def load_user(session: Session, user_id: int) -> dict[str, Any]:
        row = session.execute(sa.select(*readable).where(User.id == user_id)).mappings().first()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return dict(row)

    def add_user(session: Session, values: dict[str, Any]) -> dict[str, Any]:
        user = User(**values)
        session.add(user)
        session.flush()  # the unique constraints answer here, not a check-then-insert
        return {name: getattr(user, name) for name in schemas.read_fields}

    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)

    if isinstance(engine, sa.Engine):
        SyncSession = Annotated[Session, Depends(db.session, scope="function")]

        @app.get("/users/{id}", **get_doc)
        def get_user(user_id: UserId, session: SyncSession, request: Request) -> Response:
            return ormgate.item_response(load_user(session, user_id), request)

        @app.post("/users", **post_doc)
        def create_user(body: Create, session: SyncSession, request: Request) -> Response:
            row = add_user(session, schemas.write_values(body))
            return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})

    else:
        ASession = Annotated[AsyncSession, Depends(db.async_session, scope="function")]

        @app.get("/users/{id}", **get_doc)
        async def get_user_async(user_id: UserId, session: ASession, request: Request) -> Response:
            return ormgate.item_response(await session.run_sync(load_user, user_id), request)

        @app.post("/users", **post_doc)
        async def create_user_async(body: Create, session: ASession, request: Request) -> Response:
            # Hashing the password takes a quarter of a second: not on the event loop.
            values = await run_in_threadpool(schemas.write_values, body)
            row = await session.run_sync(add_user, values)
            return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})

    # With --auth, a PUT, PATCH or DELETE changes the account of the token's user only.
    own_account = install_auth(app, db, User) if auth else None
    ormgate.Resource(
        User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS, write_scope=own_account
    ).install(app)
    blog_resources(app, db, schemas, Post, Tag)
    return app
