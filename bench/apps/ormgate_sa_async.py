"""(j) ormgate on an async SQLAlchemy engine: the whole users resource generated."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

from . import config
from .sa_models import User

engine = create_async_engine(config.sqlalchemy_url(asynchronous=True), **config.sqlalchemy_engine_options())
app = FastAPI()
ormgate.install_problem_handlers(app)
ormgate.Resource(User, SQLAlchemyAdapter(engine), path="/users").install(app)
