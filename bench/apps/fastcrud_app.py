"""(f) FastCRUD: ``crud_router`` over async SQLAlchemy, as its README sets it up.

Its list takes ``?offset=&limit=`` (both, or it falls back to 100 rows),
``?sort=-field`` and the filters declared in ``FilterConfig``.
"""

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastcrud import FilterConfig, crud_router
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from . import config
from .sa_models import User, UserCreate, UserRead, UserUpdate

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
