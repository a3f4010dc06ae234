"""A minimal existing Django project, to serve its models through ormgate (see tests/unit/test_django_project.py)."""
