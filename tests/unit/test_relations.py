"""Each adapter describes the same relations from its ORM's own declarations (docs/relationships.md)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ormgate.adapters._dj_relations import relations as django_relations
from ormgate.adapters._pw_relations import relations as peewee_relations
from ormgate.adapters._sa_relations import relations as sqlalchemy_relations

DESCRIBE = {"sqlalchemy": sqlalchemy_relations, "django": django_relations, "peewee": peewee_relations}

# name -> (kind, target, local, remote, through_local, through_remote)
EXPECTED = {
    "Author": {"posts": ("to_many", "Post", "id", "author_id", "", "")},
    "Post": {
        "author": ("to_one", "Author", "author_id", "id", "", ""),
        "comments": ("to_many", "Comment", "id", "post_id", "", ""),
        "tags": ("many_to_many", "Tag", "id", "id", "post_id", "tag_id"),
    },
    "Comment": {
        "post": ("to_one", "Post", "post_id", "id", "", ""),
        "author": ("to_one", "Author", "author_id", "id", "", ""),
    },
    "Tag": {"posts": ("many_to_many", "Post", "id", "id", "tag_id", "post_id")},
}


@pytest.mark.parametrize("orm", sorted(DESCRIBE))
def test_every_orm_describes_the_same_relations(orm: str) -> None:
    models = importlib.import_module(f"tests.conformance.relations.{orm}")
    for model, expected in EXPECTED.items():
        found = {
            r.name: (r.kind, r.target.__name__, r.local, r.remote, r.through_local, r.through_remote)
            for r in DESCRIBE[orm](getattr(models, model))
        }
        assert found == expected, model


def test_a_hidden_reverse_relation_is_left_out() -> None:
    # Comment.author is declared with related_name="+" (Django) and backref="+" (Peewee): no Author.comments.
    for orm in ("django", "peewee"):
        models = importlib.import_module(f"tests.conformance.relations.{orm}")
        assert "comments" not in {r.name for r in DESCRIBE[orm](models.Author)}


def test_an_include_names_the_resource_of_its_target(tmp_path: Path) -> None:
    import sqlalchemy as sa

    import ormgate
    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

    models = importlib.import_module("tests.conformance.relations.sqlalchemy")
    db = SQLAlchemyAdapter(sa.create_engine(f"sqlite:///{tmp_path / 'relations.sqlite3'}"))
    authors = ormgate.Resource(models.Author, db, path="/authors")
    with pytest.raises(ValueError, match="not both"):
        ormgate.Include(resource=authors, schemas=authors.schemas)
    with pytest.raises(ValueError, match="'comments' reaches Comment, not the resource's Author"):
        ormgate.Resource(models.Post, db, includes={"comments": authors})
    posts = ormgate.Resource(models.Post, db, includes={"author": authors, "comments": ormgate.Include(max_items=2)})
    assert posts.includes is not None
    assert posts.includes.roots["author"].schemas is authors.schemas
    assert posts.includes.scoped == {}  # the authors' resource has no scope: nothing to solve
