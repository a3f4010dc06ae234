"""(i) ormgate on a sync SQLAlchemy engine: the whole users resource generated (scoped: bench/apps/scoped.py)."""

import sqlalchemy as sa
from fastapi import FastAPI

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config, scoped
from .sa_models import TenantUser, User

engine = sa.create_engine(config.sqlalchemy_url(asynchronous=False), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
scoped.install(app, SQLAlchemyAdapter(engine), User, TenantUser)
