"""(c) FastAPI with the raw driver, typed parameters and Pydantic models: the idiomatic hand-written route.

FastAPI validates the path and query parameters and the body, and validates
and serializes each response through the declared return type.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel

from .raw import Conflict, database

db = database()


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    age: int
    created_at: datetime


class UserList(BaseModel):
    items: list[UserOut]


class UserIn(BaseModel):
    username: str
    email: str
    full_name: str
    age: int


class UserPatch(BaseModel):
    username: str | None = None
    email: str | None = None
    full_name: str | None = None
    age: int | None = None


Sort = Literal["id", "-id", "username", "-username", "age", "-age", "created_at", "-created_at"]


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await db.startup()
    yield
    await db.shutdown()


app = FastAPI(lifespan=lifespan)


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> UserOut:
    row = await db.get(user_id)
    if row is None:
        raise HTTPException(404, "User not found")
    return UserOut(**row)


@app.get("/users")
async def list_users(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    age__gte: int | None = None,
    sort: Sort = "id",
) -> UserList:
    return UserList(items=[UserOut(**row) for row in await db.list(limit, offset, age__gte, sort)])


@app.post("/users", status_code=201)
async def create_user(body: UserIn) -> UserOut:
    try:
        return UserOut(**await db.create(body.model_dump()))
    except Conflict:
        raise HTTPException(409, "username or email taken") from None


@app.patch("/users/{user_id}")
async def patch_user(user_id: int, body: UserPatch) -> UserOut:
    try:
        row = await db.update(user_id, body.model_dump(exclude_unset=True))
    except Conflict:
        raise HTTPException(409, "username or email taken") from None
    if row is None:
        raise HTTPException(404, "User not found")
    return UserOut(**row)
