"""(l) ormgate on Peewee: the users resource (scoped: bench/apps/scoped.py) and the posts,
with ?include=author, generated.
"""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from . import config, scoped
from .peewee_models import Post, TenantUser, User

# The same pool size as every contender (ormgate's default pool is larger).
options = f"?max_connections={config.POOL_SIZE}" if config.DATABASE != "sqlite" else ""
app = FastAPI()
ormgate.install_problem_handlers(app)
db = PeeweeAdapter(connect(config.sync_url() + options))
scoped.install(app, db, User, TenantUser)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
