"""Schema derivation from a ModelInfo alone: no ORM involved."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pydantic
import pytest

from ormgate import FieldInfo, ModelInfo, derive


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


INFO = ModelInfo(
    name="Thing",
    table="things",
    fields=(
        FieldInfo("id", int, primary_key=True, generated=True),
        FieldInfo("name", str, max_length=10, unique=True),
        FieldInfo("note", str, nullable=True),
        FieldInfo("size", int, default=3),
        FieldInfo("colour", Colour, default=Colour.red, choices=tuple(Colour)),
        FieldInfo("grade", str, choices=("a", "b"), nullable=True),
        FieldInfo("stamp", dt.datetime, generated=True),
        FieldInfo("secret", str, nullable=True),
    ),
)


def fields(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"properties": set(schema["properties"]), "required": set(schema.get("required", []))}


def test_read_has_every_readable_field_and_requires_them_all() -> None:
    schemas = derive(INFO, exclude=["secret"])
    expected = {"id", "name", "note", "size", "colour", "grade", "stamp"}
    assert fields(schemas.read) == {"properties": expected, "required": expected}
    assert schemas.read_fields == ("id", "name", "note", "size", "colour", "grade", "stamp")


def test_create_requires_only_what_has_no_default() -> None:
    schemas = derive(INFO)
    assert fields(schemas.create) == {
        "properties": {"name", "note", "size", "colour", "grade", "secret"},
        "required": {"name"},
    }
    assert fields(schemas.update)["required"] == set()


def test_create_validates_types_lengths_choices_and_nulls() -> None:
    create = derive(INFO).create
    assert create.model_validate({"name": "x", "colour": "blue", "grade": None}).model_dump(exclude_unset=True) == {
        "name": "x",
        "colour": Colour.blue,
        "grade": None,
    }
    for bad in [{"name": "x" * 11}, {"name": "x", "grade": "c"}, {"name": "x", "size": None}, {"name": "a\x00b"}]:
        with pytest.raises(pydantic.ValidationError):
            create.model_validate(bad)


def test_read_only_fields_are_rejected_by_name_and_hidden_from_the_schema() -> None:
    create = derive(INFO, read_only=["size"]).create
    with pytest.raises(pydantic.ValidationError) as caught:
        create.model_validate({"name": "x", "id": 1, "size": 2, "stamp": "2020-01-01T00:00:00"})
    assert {(e["loc"][0], e["type"]) for e in caught.value.errors()} == {
        ("id", "read_only"),
        ("size", "read_only"),
        ("stamp", "read_only"),
    }
    assert "size" not in create.model_json_schema()["properties"]


def test_write_only_fields_are_accepted_but_never_read() -> None:
    schemas = derive(INFO, write_only=["secret"])
    assert "secret" in fields(schemas.create)["properties"]
    assert "secret" not in fields(schemas.read)["properties"]
    assert "secret" not in schemas.read_fields


def test_schema_only_fields_and_on_write() -> None:
    schemas = derive(
        INFO,
        exclude=["secret"],
        write_only=["password"],
        fields={"password": str},
        on_write=lambda values: {"secret": values.pop("password", None), **values},
    )
    body = schemas.create.model_validate({"name": "x", "password": "pw"})
    assert schemas.write_values(body) == {"name": "x", "secret": "pw"}


def test_put_resets_what_it_omits_and_keeps_generated_values() -> None:
    schemas = derive(INFO)
    body = schemas.create.model_validate({"name": "x"})
    assert schemas.write_values(body, replace=True) == {
        "name": "x",
        "note": None,
        "size": 3,
        "colour": Colour.red,
        "grade": None,
        "secret": None,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exclude": ["nope"]}, "no such field"),
        ({"fields": {"extra": str}}, "must be write-only"),
    ],
)
def test_misconfiguration_fails_at_startup(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        derive(INFO, **options)


def test_a_model_needs_exactly_one_primary_key() -> None:
    with pytest.raises(ValueError, match="exactly one primary key"):
        ModelInfo(name="X", table="x", fields=(FieldInfo("a", int),))
