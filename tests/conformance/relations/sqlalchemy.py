"""The relationships section's models on SQLAlchemy (sync and async engines)."""

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.relations import Statements, relations_app

STATEMENTS = Statements()


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "rel_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(50), unique=True)
    team: Mapped[int] = mapped_column(default=0)
    email: Mapped[str | None] = mapped_column(sa.String(100))
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class PostTag(Base):
    """The join table, mapped with a key of its own: an include reads its pairs as a model's rows."""

    __tablename__ = "rel_post_tags"
    __table_args__ = (sa.UniqueConstraint("post_id", "tag_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("rel_posts.id"))
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("rel_tags.id"))


class Tag(Base):
    __tablename__ = "rel_tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    team: Mapped[int] = mapped_column(default=0)
    posts: Mapped[list["Post"]] = relationship(secondary="rel_post_tags", back_populates="tags")


class Post(Base):
    __tablename__ = "rel_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("rel_authors.id"))
    author: Mapped[Author] = relationship(back_populates="posts")
    comments: Mapped[list["Comment"]] = relationship(back_populates="post")
    tags: Mapped[list[Tag]] = relationship(secondary="rel_post_tags", back_populates="posts")


class Comment(Base):
    __tablename__ = "rel_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(200))
    team: Mapped[int] = mapped_column(default=0)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("rel_posts.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rel_authors.id"))
    post: Mapped[Post] = relationship(back_populates="comments")
    author: Mapped[Author | None] = relationship()


def create_app(url: str) -> FastAPI:
    engine = create_engine(url)
    sync = engine.sync_engine if hasattr(engine, "sync_engine") else engine
    sa.event.listen(sync, "before_cursor_execute", STATEMENTS.count)
    db = SQLAlchemyAdapter(engine)
    return relations_app("sqlalchemy", db, Author, Post, Comment, Tag, [Author, Tag, Post, PostTag, Comment])
