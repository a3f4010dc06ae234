"""ModelInfo -> Pydantic v2 schemas: Read, Create (also PUT) and Update (PATCH)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from .model import MISSING, FieldInfo, ModelInfo

Values = dict[str, Any]


def _unset() -> None:
    # A default *factory*, not a default: the JSON schema then shows no bogus
    # "default": null, and model_dump(exclude_unset=True) still drops the field.
    return None


def _reject_read_only(value: Any) -> Any:
    raise PydanticCustomError("read_only", "field is read-only")


_READ_ONLY = Annotated[SkipJsonSchema[Any], AfterValidator(_reject_read_only)]


def _reject_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps one contract.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "NUL characters are not allowed")
    return value


def field_annotation(field: FieldInfo) -> Any:
    """The Python annotation that validates one column's values."""
    annotation: Any = field.python_type
    # An Enum type already restricts its values; plain choices become a Literal.
    if field.choices is not None and not issubclass(field.python_type, enum.Enum):
        annotation = Literal[field.choices]
    elif field.python_type is str:
        annotation = Annotated[str, Field(max_length=field.max_length), AfterValidator(_reject_nul)]
    return annotation | None if field.nullable else annotation


@dataclass(frozen=True)
class ModelSchemas:
    """The derived schemas of one model, and which model fields each one carries."""

    info: ModelInfo
    read: type[pydantic.BaseModel]
    create: type[pydantic.BaseModel]
    update: type[pydantic.BaseModel]
    read_fields: tuple[str, ...]
    on_write: Callable[[Values], Values] | None = None

    def write_values(self, body: pydantic.BaseModel, *, replace: bool = False) -> Values:
        """The column values a validated body asks to write: ``sent_values`` through ``on_write``.

        ``on_write`` may be slow (a password hash): call this in a worker thread
        (a ``def`` endpoint), never on the event loop.
        """
        values = self.sent_values(body, replace=replace)
        return values if self.on_write is None else self.on_write(values)

    def sent_values(self, body: pydantic.BaseModel, *, replace: bool = False) -> Values:
        """The values a validated body asks to write, before ``on_write``.

        PATCH writes only what was sent. PUT (``replace``) also resets every
        field it omitted to its default, or to null where the column allows it;
        columns the database generates keep their value.
        """
        values = body.model_dump(exclude_unset=True)
        if replace:
            for name in type(body).model_fields.keys() - values.keys():
                field = self.info.by_name.get(name)
                if field is None or field.generated:
                    continue
                if field.default is not MISSING and not callable(field.default):
                    values[name] = field.default
                elif field.nullable:
                    values[name] = None
        return values


def derive(
    info: ModelInfo,
    *,
    exclude: Iterable[str] = (),
    read_only: Iterable[str] = (),
    write_only: Iterable[str] = (),
    fields: Mapping[str, Any] | None = None,
    on_write: Callable[[Values], Values] | None = None,
) -> ModelSchemas:
    """Derive the schemas of a model.

    ``fields`` overrides the annotation of a model field (``EmailStr`` for an
    email column) or adds a schema-only field (a ``password`` that ``on_write``
    turns into a hash column). ``on_write`` gets the values a write asks for
    and returns the column values to store; the generated routes call it in a
    worker thread. Generated columns (autoincrement keys, server defaults) are
    read-only without being listed.
    """
    extra = dict(fields or {})
    excluded = set(exclude)
    write_only_ = set(write_only)
    read_only_ = set(read_only) | {f.name for f in info.fields if f.generated}
    unknown = (excluded | write_only_ | set(read_only)) - info.by_name.keys() - extra.keys()
    if unknown:
        raise ValueError(f"{info.name}: no such field(s) {sorted(unknown)}")
    inputs_only = extra.keys() - info.by_name.keys() - write_only_
    if inputs_only:
        raise ValueError(f"{info.name}: schema-only field(s) {sorted(inputs_only)} must be write-only")

    model_fields = [f for f in info.fields if f.name not in excluded]
    names = [f.name for f in model_fields] + [n for n in extra if n not in info.by_name]

    def annotation(name: str) -> Any:
        field = info.by_name.get(name)
        if name in extra:
            return extra[name] | None if field is not None and field.nullable else extra[name]
        assert field is not None
        return field_annotation(field)

    read_names = tuple(n for n in names if n not in write_only_)
    write_names = [n for n in names if n not in read_only_]
    config = ConfigDict(extra="forbid")

    read = pydantic.create_model(  # type: ignore[call-overload]
        f"{info.name}Read", **{n: (annotation(n), ...) for n in read_names}
    )

    def create_default(name: str) -> Any:
        field = info.by_name.get(name)
        if field is None or field.required:
            return ...
        if field.default is not MISSING and not callable(field.default):
            return Field(default=field.default)
        return Field(default_factory=_unset)

    # Read-only fields are declared so that sending one is a clear 422 naming
    # it, and hidden from the documented schema.
    hidden = {n: (_READ_ONLY, Field(default_factory=_unset)) for n in names if n in read_only_}
    create = pydantic.create_model(  # type: ignore[call-overload]
        f"{info.name}Create",
        __config__=config,
        **{n: (annotation(n), create_default(n)) for n in write_names},
        **hidden,
    )
    update = pydantic.create_model(  # type: ignore[call-overload]
        f"{info.name}Update",
        __config__=config,
        **{n: (annotation(n), Field(default_factory=_unset)) for n in write_names},
        **hidden,
    )
    return ModelSchemas(info, read, create, update, tuple(n for n in read_names if n in info.by_name), on_write)
