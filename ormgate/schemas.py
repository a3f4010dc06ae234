"""ModelInfo -> Pydantic v2 schemas: Read, Create (also PUT) and Update (PATCH)."""

from __future__ import annotations

import base64
import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import pydantic
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from .model import JSON, MISSING, FieldInfo, ModelInfo
from .redaction import keep_secret

Values = dict[str, Any]


def _unset() -> None:
    # A default *factory*, not a default: the JSON schema then shows no bogus
    # "default": null, and model_dump(exclude_unset=True) still drops the field.
    return None


def _reject_read_only(value: Any) -> Any:
    raise PydanticCustomError("read_only", "field is read-only")


_READ_ONLY = Annotated[SkipJsonSchema[Any], AfterValidator(_reject_read_only)]


# The JSON Schema pattern of a text value without NUL (ECMA-262 and Python's re read it alike).
NO_NUL = "^[^\\x00]*$"


def _reject_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps one contract.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "NUL characters are not allowed")
    return value


def to_base64(value: bytes) -> str:
    """Bytes as JSON carries them, in requests and responses alike: standard base64 (RFC 4648), padded."""
    return base64.b64encode(value).decode("ascii")


def _from_base64(value: Any) -> Any:
    # A string is base64 whether it came from JSON or from a dict (FastAPI's handler
    # validates the parsed body in Python mode, where Pydantic would take the text's UTF-8).
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error, or a character beyond ASCII
            raise PydanticCustomError("base64", "Input should be standard base64 (RFC 4648)") from None
    return value


def _reject_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("json_null", "Input should be a JSON value other than null")
    return value


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(to_base64, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
# Annotations of the Python types that need more than the type itself.
_ANNOTATIONS: dict[Any, Any] = {
    str: Annotated[str, AfterValidator(_reject_nul)],
    bytes: Base64Bytes,
    # null is the column's NULL, allowed where the column is nullable.
    JSON: Annotated[JSON, AfterValidator(_reject_null)],
}
# The types that the response serializer (resource.dumps) writes as Pydantic does and
# Pydantic reads back: a column of another type is refused when its schemas are derived.
_SERVED = (str, int, float, bool, Decimal, dt.date, dt.time, dt.timedelta, UUID, bytes, enum.Enum, JSON)


def servable(field: FieldInfo) -> bool:
    """Whether ormgate can read and write the column's values as JSON."""
    if field.python_type is list:  # an array column, of one dimension
        return field.item_type is not None and issubclass(field.item_type, _SERVED)
    return issubclass(field.python_type, _SERVED)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    # A naive column holds UTC: an aware value is compared and stored as its UTC time. Left
    # to them, the drivers differ: some refuse it (a 500), others drop the offset.
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 has no UTC time a datetime can hold
        raise PydanticCustomError(
            "datetime_range", "Input should be a datetime within years 1 to 9999 in UTC"
        ) from None


def _utc_if_naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# A naive column's values, read as UTC and written with "Z" (RFC 3339 wants an offset), as resource.dumps does.
NaiveUTC = Annotated[dt.datetime, AfterValidator(_naive_utc), PlainSerializer(_utc_if_naive, when_used="json")]
# An aware column's: a naive value sent is taken as UTC too.
AwareDateTime = Annotated[dt.datetime, AfterValidator(_utc_if_naive)]


def value_annotation(field: FieldInfo) -> Any:
    """The annotation of one value of a column, as a filter, a cursor or a path key carries it.

    An integer column's range and the datetime rule (above) apply here; the
    schemas add what only a whole body needs (string lengths, base64, NUL).
    """
    # An Enum type already restricts its values; plain choices become a Literal.
    if field.choices is not None and not issubclass(field.python_type, enum.Enum):
        return Literal[field.choices]
    if field.int_range is not None and field.python_type is int:
        return Annotated[int, Field(ge=field.int_range[0], le=field.int_range[1])]
    if field.python_type is dt.datetime:
        return AwareDateTime if field.timezone else NaiveUTC
    return field.python_type


def field_annotation(field: FieldInfo) -> Any:
    """The Python annotation that validates one column's values."""
    annotation: Any
    if field.python_type is str and field.choices is None:
        no_nul: dict[str, Any] = {"pattern": NO_NUL}  # documented; refused by _reject_nul with its own message
        annotation = Annotated[
            str, Field(max_length=field.max_length, json_schema_extra=no_nul), AfterValidator(_reject_nul)
        ]
    elif field.python_type is list:
        annotation = list[_ANNOTATIONS.get(field.item_type, field.item_type)]  # type: ignore[misc]
    elif field.python_type in _ANNOTATIONS and field.choices is None:
        annotation = _ANNOTATIONS[field.python_type]
    else:
        annotation = value_annotation(field)
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
    writable: tuple[str, ...] = ()  # the model fields a client may write (PUT replaces exactly these)

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
        writable field it omitted to its default, or to null where the column
        allows it. Read-only, excluded and generated fields keep their values,
        and so do fields whose default is computed when a row is created (a
        server default, a function): it is not computed again.
        """
        values = body.model_dump(exclude_unset=True)
        if replace:
            for name in self.writable:
                field = self.info.by_name[name]
                if name in values or field.server_default or callable(field.default):
                    continue
                if field.default is not MISSING:
                    values[name] = field.default
                elif field.nullable:
                    values[name] = None
        # What a client may write but not read (a password) must not be logged either.
        keep_secret(value for name, value in values.items() if name not in self.read_fields)
        return values


def _noting_secrets(on_write: Callable[[Values], Values], read_fields: tuple[str, ...]) -> Callable[[Values], Values]:
    """``on_write`` noting the values it makes for fields no client may read (a password's hash) as secrets."""

    def noting(values: Values) -> Values:
        written = on_write(values)
        keep_secret(value for name, value in written.items() if name not in read_fields)
        return written

    return noting


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
    turns into a hash column). Generated columns (autoincrement keys, computed
    columns) are read-only without being listed; a column with a server default
    is optional on create and writable. A column of a type ormgate cannot serve
    as JSON is refused unless it is excluded or ``fields`` gives its annotation.
    ``on_write`` gets the values a write asks for and returns the column values
    to store; the generated routes call it off the event loop.
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
    # Refused here, when the resource is built, rather than by a 500 after the row is committed.
    unserved = [f for f in info.fields if f.name not in excluded and f.name not in extra and not servable(f)]
    if unserved:
        columns = ", ".join(f"{info.name}.{f.name} ({f.python_type.__name__})" for f in unserved)
        raise ValueError(f"ormgate cannot serve {columns} as JSON: exclude it, or give its annotation in fields=")

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
    read_fields = tuple(n for n in read_names if n in info.by_name)
    return ModelSchemas(
        info,
        read,
        create,
        update,
        read_fields,
        None if on_write is None else _noting_secrets(on_write, read_fields),
        tuple(n for n in write_names if n in info.by_name),
    )
