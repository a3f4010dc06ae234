"""Settings of a small existing Django project: auth and contenttypes on a SQLite file."""

import os

SECRET_KEY = "tests-only"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # A file: each worker thread has its own connection and would see its own in-memory database.
        "NAME": os.environ["ORMGATE_PROJECT_DATABASE"],
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
    }
}
USE_TZ = True
# Hashing speed, not strength, matters in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
