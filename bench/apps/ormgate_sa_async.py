"""(j) ormgate on an async SQLAlchemy engine: the users resource (scoped: bench/apps/scoped.py) and the posts,
with ?include=author, generated.
"""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config, scoped
from .sa_models import Post, TenantUser, User

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
db = SQLAlchemyAdapter(engine)
scoped.install(app, db, User, TenantUser)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
