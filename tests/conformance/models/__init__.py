"""The conformance models, declared once per ORM with the same tables and columns.

categories(id, name unique) and items(every column type ormgate maps, a unique
UUID and a foreign key to categories); ghosts is declared and never created.
"""

import enum


class Status(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"
