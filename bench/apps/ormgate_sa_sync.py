"""(i) ormgate on a sync SQLAlchemy engine: the users resource (scoped: bench/apps/scoped.py) and the posts,
with ?include=author, generated.
"""

import sqlalchemy as sa
from fastapi import FastAPI

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config, scoped
from .sa_models import Post, TenantUser, User

engine = sa.create_engine(config.sqlalchemy_url(asynchronous=False), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
db = SQLAlchemyAdapter(engine)
scoped.install(app, db, User, TenantUser)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
