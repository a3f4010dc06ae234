"""(k) ormgate on the Django ORM, standalone: the whole users resource generated (scoped: bench/apps/scoped.py)."""

from fastapi import FastAPI

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from . import config, scoped

setup()  # the app registry must be ready before the model is declared
from .django_models import TenantUser, User  # noqa: E402

app = FastAPI()
ormgate.install_problem_handlers(app)
scoped.install(app, DjangoAdapter(configure(config.sync_url())), User, TenantUser)
