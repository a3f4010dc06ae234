"""(l) ormgate on Peewee: the whole users resource generated."""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from . import config
from .peewee_models import User

# The same pool size as every contender (ormgate's default pool is larger).
options = f"?max_connections={config.POOL_SIZE}" if config.DATABASE != "sqlite" else ""
app = FastAPI()
ormgate.install_problem_handlers(app)
ormgate.Resource(User, PeeweeAdapter(connect(config.sync_url() + options)), path="/users").install(app)
