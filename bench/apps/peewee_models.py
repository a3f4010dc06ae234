"""The benchmark tables as Peewee models (unbound: each app binds them to its database)."""

import peewee as pw


class User(pw.Model):
    id = pw.AutoField()
    username = pw.CharField(max_length=150, unique=True)
    email = pw.CharField(max_length=254, unique=True)
    full_name = pw.CharField(max_length=200)
    age = pw.IntegerField()
    created_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")], index=True)

    class Meta:
        table_name = "users"


class TenantUser(User):
    """The same table with its ``tenant`` column, for the scoped workloads (bench/apps/scoped.py)."""

    tenant = pw.IntegerField(constraints=[pw.SQL("DEFAULT 1")])

    class Meta:
        table_name = "users"


class Post(pw.Model):
    id = pw.AutoField()
    author = pw.ForeignKeyField(User, backref="+")  # the author_id column; no reverse on User
    title = pw.CharField(max_length=200)
    body = pw.TextField()
    created_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])

    class Meta:
        table_name = "posts"
