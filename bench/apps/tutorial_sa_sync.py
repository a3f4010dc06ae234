"""(d) The tutorial style: FastAPI, SQLAlchemy ORM, ``def`` endpoints, ``Depends(get_db)``, ``response_model``."""

# ruff: noqa: B008  (Depends() as a default value is the tutorial style being measured)

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from . import config
from .sa_models import Post, PostWithAuthor, User, UserCreate, UserRead, UserUpdate, order_by

connect_args = {"check_same_thread": False} if config.DATABASE == "sqlite" else {}
engine = sa.create_engine(
    config.sqlalchemy_url(asynchronous=False), connect_args=connect_args, **config.sqlalchemy_engine_options()
)
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)

app = FastAPI()


def get_db() -> Iterator[Session]:
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/users/{user_id}", response_model=UserRead)
def read_user(user_id: int, db: Session = Depends(get_db)) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="User not found")
    return user


@app.get("/users", response_model=list[UserRead])
def read_users(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    age__gte: int | None = None,
    sort: str = "id",
    db: Session = Depends(get_db),
) -> list[User]:
    if sort.removeprefix("-") not in User.__table__.columns:
        raise HTTPException(status_code=400, detail="cannot sort by this field")
    query = sa.select(User)
    if age__gte is not None:
        query = query.where(User.age >= age__gte)
    return list(db.scalars(query.order_by(*order_by(sort)).offset(offset).limit(limit)))


@app.get("/posts", response_model=list[PostWithAuthor])
def read_posts(
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    db: Session = Depends(get_db),
) -> list[Post]:
    # joinedload: the authors come in the same statement (a LEFT OUTER JOIN); selectinload, what
    # SQLAlchemy's docs suggest for collections, would read them with a second statement.
    query = sa.select(Post).options(joinedload(Post.author)).order_by(Post.id)
    return list(db.scalars(query.offset(offset).limit(limit)))


@app.post("/users", response_model=UserRead, status_code=201)
def create_user(user: UserCreate, db: Session = Depends(get_db)) -> User:
    db_user = User(**user.model_dump())
    db.add(db_user)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(status_code=409, detail="username or email already registered") from None
    db.refresh(db_user)
    return db_user


@app.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: int, user: UserUpdate, db: Session = Depends(get_db)) -> User:
    db_user = db.get(User, user_id)
    if db_user is None:
        raise HTTPException(status_code=404, detail="User not found")
    for key, value in user.model_dump(exclude_unset=True).items():
        setattr(db_user, key, value)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(status_code=409, detail="username or email already registered") from None
    db.refresh(db_user)
    return db_user
