"""(i) ormgate on a sync SQLAlchemy engine: the whole users resource generated."""

import sqlalchemy as sa
from fastapi import FastAPI

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config
from .sa_models import User

engine = sa.create_engine(config.sqlalchemy_url(asynchronous=False), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
ormgate.Resource(User, SQLAlchemyAdapter(engine), path="/users").install(app)
