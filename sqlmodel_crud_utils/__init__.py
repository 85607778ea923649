"""sqlmodel-crud-utils: one readable line per query for SQLModel and SQLAlchemy 2.x.

>>> from sqlmodel_crud_utils import Q, __version__
>>> __version__
'0.2.0'
"""

from .exceptions import (
    BulkOperationError,
    MultipleRecordsError,
    QueryError,
    RecordNotFoundError,
    SQLModelCRUDError,
    TransactionError,
    ValidationError,
)
from .mixins import SoftDeleteMixin, acting_as
from .pagination import CursorPage, Page
from .query import Q

__version__ = "0.2.0"

__all__ = [
    "BulkOperationError",
    "CursorPage",
    "MultipleRecordsError",
    "Page",
    "Q",
    "QueryError",
    "RecordNotFoundError",
    "SQLModelCRUDError",
    "SoftDeleteMixin",
    "TransactionError",
    "ValidationError",
    "__version__",
    "acting_as",
]
