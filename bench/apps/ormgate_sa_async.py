"""(j) ormgate on an async SQLAlchemy engine: the whole users resource generated (scoped: bench/apps/scoped.py)."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config, scoped
from .sa_models import TenantUser, User

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
scoped.install(app, SQLAlchemyAdapter(engine), User, TenantUser)
