"""(g) Django via django-ninja, tutorial style: ``ModelSchema``, sync views, Django's ASGI handler.

Settings are the lean end of a real project: no middleware at all (a new
project has seven) and ``DEBUG`` off. Under ASGI Django runs each request's
sync code in a thread of its own, so its per-thread connections cannot
persist: Django's docs say to disable persistent connections there
(``CONN_MAX_AGE=0``, the default) and use the backend's pool, which Django
has for PostgreSQL only (``OPTIONS["pool"]``, psycopg_pool, ``POOL_SIZE``
connections). On SQLite and MariaDB each request opens its own connection.
"""

from urllib.parse import urlsplit

import django
from django.conf import settings

from . import config


def _database() -> dict[str, object]:
    url = urlsplit(config.sync_url())
    server = {"HOST": url.hostname or "", "PORT": str(url.port or ""), "USER": url.username or ""}
    if config.DATABASE == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(config.sqlite_path())}
    if config.DATABASE == "postgresql":
        pool = {"min_size": config.POOL_SIZE, "max_size": config.POOL_SIZE, "timeout": 10}
        return {"ENGINE": "django.db.backends.postgresql", "NAME": config.NAME, "OPTIONS": {"pool": pool}, **server}
    import pymysql  # stands in for mysqlclient, which needs the MySQL client headers to build

    pymysql.install_as_MySQLdb()
    return {"ENGINE": "django.db.backends.mysql", "NAME": config.NAME, "OPTIONS": {"charset": "utf8mb4"}, **server}


settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": _database()},
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=False,
    TIME_ZONE="UTC",  # the PostgreSQL session time zone, as for ormgate's Django adapter
    SECRET_KEY="bench",
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.urls import path  # noqa: E402
from ninja import ModelSchema, NinjaAPI  # noqa: E402
from ninja.errors import HttpError  # noqa: E402

from .django_models import Post, User  # noqa: E402


class UserOut(ModelSchema):
    class Meta:
        model = User
        fields = ["id", "username", "email", "full_name", "age", "created_at"]  # noqa: RUF012 (ninja reads a plain list)


class UserIn(ModelSchema):
    class Meta:
        model = User
        fields = ["username", "email", "full_name", "age"]  # noqa: RUF012 (ninja reads a plain list)


class UserPatch(ModelSchema):
    class Meta:
        model = User
        fields = ["username", "email", "full_name", "age"]  # noqa: RUF012 (ninja reads a plain list)
        fields_optional = "__all__"


class PostOut(ModelSchema):
    author_id: int
    author: UserOut

    class Meta:
        model = Post
        fields = ["id", "title", "body", "created_at"]  # noqa: RUF012 (ninja reads a plain list)


SORTABLE = {"id", "username", "email", "full_name", "age", "created_at"}
api = NinjaAPI()


@api.get("/users/{user_id}", response=UserOut)
def get_user(request, user_id: int):  # type: ignore[no-untyped-def]
    return get_object_or_404(User, id=user_id)


@api.get("/users", response=list[UserOut])
def list_users(request, limit: int = 20, offset: int = 0, age__gte: int | None = None, sort: str = "id"):  # type: ignore[no-untyped-def]
    if sort.removeprefix("-") not in SORTABLE:
        raise HttpError(400, "cannot sort by this field")
    users = User.objects.all()
    if age__gte is not None:
        users = users.filter(age__gte=age__gte)
    return users.order_by(sort, "id")[offset : offset + limit]


@api.get("/posts", response=list[PostOut])
def list_posts(request, limit: int = 20, offset: int = 0):  # type: ignore[no-untyped-def]
    return Post.objects.select_related("author").order_by("id")[offset : offset + limit]


@api.post("/users", response={201: UserOut})
def create_user(request, payload: UserIn):  # type: ignore[no-untyped-def]
    return 201, User.objects.create(**payload.dict())


@api.patch("/users/{user_id}", response=UserOut)
def update_user(request, user_id: int, payload: UserPatch):  # type: ignore[no-untyped-def]
    user = get_object_or_404(User, id=user_id)
    for attr, value in payload.dict(exclude_unset=True).items():
        setattr(user, attr, value)
    user.save()
    return user


urlpatterns = [path("", api.urls)]
app = get_asgi_application()
