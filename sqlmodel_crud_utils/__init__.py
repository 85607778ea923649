"""sqlmodel-crud-utils: one readable line per query for SQLModel and SQLAlchemy 2.x.

>>> from sqlmodel_crud_utils import Q, __version__
>>> __version__
'0.2.0'
"""

from .connection import create_async_pooled_engine, create_pooled_engine
from .exceptions import (
    BulkOperationError,
    MultipleRecordsError,
    QueryError,
    RecordNotFoundError,
    SQLModelCRUDError,
    TransactionError,
    ValidationError,
)
from .hooks import clear_hooks, get_hooks, register_hook, unregister_hook
from .mixins import AuditMixin, SoftDeleteMixin, UTCDateTime, acting_as, live_only, with_deleted
from .pagination import CursorPage, Page
from .query import Q
from .transactions import a_transaction, in_transaction, transaction

__version__ = "0.2.0"

__all__ = [
    "AuditMixin",
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
    "UTCDateTime",
    "ValidationError",
    "__version__",
    "a_transaction",
    "acting_as",
    "clear_hooks",
    "create_async_pooled_engine",
    "create_pooled_engine",
    "get_hooks",
    "in_transaction",
    "live_only",
    "register_hook",
    "transaction",
    "unregister_hook",
    "with_deleted",
]
