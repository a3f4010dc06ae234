"""(k) ormgate on the Django ORM, standalone: the whole users resource generated."""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from . import config

setup()  # the app registry must be ready before the model is declared
from .django_models import User  # noqa: E402

app = FastAPI()
ormgate.install_problem_handlers(app)
ormgate.Resource(User, DjangoAdapter(configure(config.sync_url())), path="/users").install(app)
