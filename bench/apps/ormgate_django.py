"""(k) ormgate on the Django ORM, standalone: the users resource and the posts, with ?include=author, generated."""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from . import config

setup()  # the app registry must be ready before the model is declared
from .django_models import Post, User  # noqa: E402

app = FastAPI()
ormgate.install_problem_handlers(app)
db = DjangoAdapter(configure(config.sync_url()))
ormgate.Resource(User, db, path="/users").install(app)
ormgate.Resource(Post, db, path="/posts", includes={"author": ormgate.Include()}).install(app)
