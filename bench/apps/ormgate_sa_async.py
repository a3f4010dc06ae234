"""(j) ormgate on an async SQLAlchemy engine: the users resource and the posts, with ?include=author, generated."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config
from .sa_models import Post, User

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
db = SQLAlchemyAdapter(engine)
ormgate.Resource(User, db, path="/users").install(app)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
