"""(e) The tutorial style on async SQLAlchemy: ``AsyncSession`` from ``Depends(get_db)``, ``response_model``."""

# ruff: noqa: B008  (Depends() as a default value is the tutorial style being measured)

from collections.abc import AsyncIterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import joinedload

from . import config
from .sa_models import Post, PostWithAuthor, User, UserCreate, UserRead, UserUpdate, order_by

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)

app = FastAPI()


async def get_db() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


@app.get("/users/{user_id}", response_model=UserRead)
async def read_user(user_id: int, db: AsyncSession = Depends(get_db)) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return user


@app.get("/users", response_model=list[UserRead])
async def read_users(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    age__gte: int | None = None,
    sort: str = "id",
    db: AsyncSession = Depends(get_db),
) -> list[User]:
    if sort.removeprefix("-") not in User.__table__.columns:
        raise HTTPException(status_code=400, detail="cannot sort by this field")
    query = sa.select(User)
    if age__gte is not None:
        query = query.where(User.age >= age__gte)
    return list(await db.scalars(query.order_by(*order_by(sort)).offset(offset).limit(limit)))


@app.get("/posts", response_model=list[PostWithAuthor])
async def read_posts(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    db: AsyncSession = Depends(get_db),
) -> list[Post]:
    # joinedload: the authors come in the same statement (a LEFT OUTER JOIN); selectinload, what
    # SQLAlchemy's docs suggest for collections, would read them with a second statement.
    query = sa.select(Post).options(joinedload(Post.author)).order_by(Post.id)
    return list(await db.scalars(query.offset(offset).limit(limit)))


@app.post("/users", response_model=UserRead, status_code=201)
async def create_user(user: UserCreate, db: AsyncSession = Depends(get_db)) -> User:
    db_user = User(**user.model_dump())
    db.add(db_user)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(status_code=409, detail="username or email already registered") from None
    await db.refresh(db_user)
    return db_user


@app.patch("/users/{user_id}", response_model=UserRead)
async def update_user(user_id: int, user: UserUpdate, db: AsyncSession = Depends(get_db)) -> User:
    db_user = await db.get(User, user_id)
    if db_user is None:
        raise HTTPException(status_code=404, detail="User not found")
    for key, value in user.model_dump(exclude_unset=True).items():
        setattr(db_user, key, value)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(status_code=409, detail="username or email already registered") from None
    await db.refresh(db_user)
    return db_user
