"""(i) ormgate on a sync SQLAlchemy engine: the users resource and the posts, with ?include=author, generated."""

import sqlalchemy as sa
from fastapi import FastAPI

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config
from .sa_models import Post, User

engine = sa.create_engine(config.sqlalchemy_url(asynchronous=False), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
db = SQLAlchemyAdapter(engine)
ormgate.Resource(User, db, path="/users").install(app)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
