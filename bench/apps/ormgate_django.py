"""(k) ormgate on the Django ORM, standalone: the users resource (scoped: bench/apps/scoped.py) and the posts,
with ?include=author, generated.
"""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from . import config, scoped

setup()  # the app registry must be ready before the model is declared
from .django_models import Post, TenantUser, User  # noqa: E402

app = FastAPI()
ormgate.install_problem_handlers(app)
db = DjangoAdapter(configure(config.sync_url()))
scoped.install(app, db, User, TenantUser)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
