"""(f) FastCRUD: ``crud_router`` over async SQLAlchemy, as its README sets it up.

Its list takes ``?offset=&limit=`` (both, or it falls back to 100 rows),
``?sort=-field`` and the filters declared in ``FilterConfig``. ``/posts`` is
its joined read: ``joins_config`` makes the list call ``get_multi_joined``,
each post's author nested under ``author``.
"""

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastcrud import FilterConfig, JoinConfig, crud_router
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from . import config
from .sa_models import Post, PostRead, PostWithAuthor, User, UserCreate, UserRead, UserUpdate

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


app = FastAPI()
app.include_router(
    crud_router(
        session=get_session,
        model=User,
        create_schema=UserCreate,
        update_schema=UserUpdate,
        select_schema=UserRead,
        path="/users",
        tags=["users"],
        filter_config=FilterConfig(age__gte=None),
    )
)
app.include_router(
    crud_router(
        session=get_session,
        model=Post,
        create_schema=PostRead,
        update_schema=PostRead,
        select_schema=PostWithAuthor,
        path="/posts",
        tags=["posts"],
        included_methods=["read_multi"],
        joins_config=[
            JoinConfig(
                model=User,
                join_on=Post.author_id == User.id,
                join_prefix="author_",
                schema_to_select=UserRead,  # join_type: "left", FastCRUD's default
            )
        ],
    )
)
