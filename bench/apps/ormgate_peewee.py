"""(l) ormgate on Peewee: the whole users resource generated (scoped: bench/apps/scoped.py)."""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from . import config, scoped
from .peewee_models import TenantUser, User

# The same pool size as every contender (ormgate's default pool is larger).
options = f"?max_connections={config.POOL_SIZE}" if config.DATABASE != "sqlite" else ""
app = FastAPI()
ormgate.install_problem_handlers(app)
scoped.install(app, PeeweeAdapter(connect(config.sync_url() + options)), User, TenantUser)
