"""ormgate: FastAPI resources for SQLAlchemy, Django and Peewee models."""

from .adapters._session import UnitOfWork
from .bodies import BodyLimit
from .errors import (
    BadQuery,
    Conflict,
    ForeignKeyViolation,
    InvalidData,
    NotFound,
    OrmgateError,
    PreconditionFailed,
    Unavailable,
    UniqueViolation,
    UnsupportedMediaType,
)
from .hooks import Event, Hooks
from .model import FieldInfo, ModelInfo, RelationInfo
from .offline import offline_docs
from .problems import install as install_problem_handlers
from .query import Filter, Limits, Query, Sort
from .relations import Include
from .resource import Resource, item_response
from .schemas import ModelSchemas, derive
from .scope import Scope
from .waiting import Waiting

__version__ = "0.1.0"

__all__ = [
    "BadQuery",
    "BodyLimit",
    "Conflict",
    "Event",
    "FieldInfo",
    "Filter",
    "ForeignKeyViolation",
    "Hooks",
    "Include",
    "InvalidData",
    "Limits",
    "ModelInfo",
    "ModelSchemas",
    "NotFound",
    "OrmgateError",
    "PreconditionFailed",
    "Query",
    "RelationInfo",
    "Resource",
    "Scope",
    "Sort",
    "Unavailable",
    "UniqueViolation",
    "UnitOfWork",
    "UnsupportedMediaType",
    "Waiting",
    "__version__",
    "derive",
    "install_problem_handlers",
    "item_response",
    "offline_docs",
]
