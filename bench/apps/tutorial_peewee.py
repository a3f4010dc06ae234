"""(h) Peewee, tutorial style: schemas from ``playhouse.pydantic_utils``, ``def`` endpoints, ``response_model``.

Each endpoint holds a connection with ``db.connection_context()``: Peewee keeps
connections per thread, and a FastAPI ``def`` endpoint runs in one worker
thread (a yielding dependency could open it in one thread and close it in another).
"""

from typing import Annotated, Any

import peewee as pw
from fastapi import FastAPI, HTTPException, Query
from playhouse import db_url
from playhouse.pydantic_utils import to_pydantic
from pydantic import BaseModel

from . import config
from .peewee_models import Post, User

# Peewee's pools raise at once when every connection is taken, unless given a timeout to wait.
pool = {"max_connections": config.POOL_SIZE, "timeout": 10}
if config.DATABASE == "sqlite":
    db = pw.SqliteDatabase(str(config.sqlite_path()))
elif config.DATABASE == "postgresql":
    db = db_url.connect(f"psycopg3+pool://{config.POSTGRESQL_HOST}/{config.NAME}", **pool)
else:
    db = db_url.connect(f"mysql+pool://{config.MYSQL_HOST}/{config.NAME}", charset="utf8mb4", **pool)
db.bind([User, Post])

UserRead: Any = to_pydantic(User, exclude_autofield=False, model_name="UserRead")
UserCreate: Any = to_pydantic(User, exclude=[User.created_at], model_name="UserCreate")
# The author embedded (to_pydantic's `relationships`), and its key beside it as the other contenders show it.
PostBase: Any = to_pydantic(Post, exclude_autofield=False, relationships={Post.author: UserRead}, model_name="PostBase")


# A base made at run time, hence Any to the type checker.
class PostRead(PostBase):  # type: ignore[misc]
    author_id: int


class UserUpdate(BaseModel):  # PATCH: every field optional, which to_pydantic does not offer
    username: str | None = None
    email: str | None = None
    full_name: str | None = None
    age: int | None = None


SORTABLE = {name: getattr(User, name) for name in ("id", "username", "email", "full_name", "age", "created_at")}

app = FastAPI()


@app.get("/users/{user_id}", response_model=UserRead)
def read_user(user_id: int) -> User:
    with db.connection_context():
        user = User.get_or_none(User.id == user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return user


@app.get("/users", response_model=list[UserRead])
def read_users(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    age__gte: int | None = None,
    sort: str = "id",
) -> list[User]:
    column = SORTABLE.get(sort.removeprefix("-"))
    if column is None:
        raise HTTPException(status_code=400, detail="cannot sort by this field")
    query = User.select()
    if age__gte is not None:
        query = query.where(User.age >= age__gte)
    order = [column.desc() if sort.startswith("-") else column.asc()]
    if column is not User.id:
        order.append(User.id.asc())
    with db.connection_context():
        return list(query.order_by(*order).offset(offset).limit(limit))


@app.get("/posts", response_model=list[PostRead])
def read_posts(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Post]:
    # One statement: each post's author comes from the join (Peewee's `prefetch` would be a second one).
    query = Post.select(Post, User).join(User).order_by(Post.id).offset(offset).limit(limit)
    with db.connection_context():
        return list(query)


@app.post("/users", response_model=UserRead, status_code=201)
def create_user(user: UserCreate) -> User:
    with db.connection_context():
        try:
            with db.atomic():
                created = User.create(**user.model_dump())
        except pw.IntegrityError:
            raise HTTPException(status_code=409, detail="username or email already registered") from None
        return User.get_by_id(created.id)  # created_at is the database's


@app.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: int, user: UserUpdate) -> User:
    with db.connection_context():
        db_user = User.get_or_none(User.id == user_id)
        if db_user is None:
            raise HTTPException(status_code=404, detail="User not found")
        for key, value in user.model_dump(exclude_unset=True).items():
            setattr(db_user, key, value)
        try:
            with db.atomic():
                db_user.save()
        except pw.IntegrityError:
            raise HTTPException(status_code=409, detail="username or email already registered") from None
        return db_user
