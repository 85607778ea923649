"""sqlmodel-crud-utils: one readable line per query for SQLModel and SQLAlchemy 2.x.

The package root re-exports the whole public API: `Q` and its pages, the
v0.1 functions (sync names as in v0.1, async ones with an ``a_`` prefix),
exceptions, mixins, transactions and hooks.

>>> from sqlmodel_crud_utils import Q, __version__, a_get_rows, get_rows
>>> __version__
'0.2.0'
"""

from .a_sync import bulk_update_rows as a_bulk_update_rows
from .a_sync import bulk_upsert_mappings as a_bulk_upsert_mappings
from .a_sync import delete_row as a_delete_row
from .a_sync import delete_rows_within_id_list as a_delete_rows_within_id_list
from .a_sync import get_one_or_create as a_get_one_or_create
from .a_sync import get_result_from_query as a_get_result_from_query
from .a_sync import get_row as a_get_row
from .a_sync import get_rows as a_get_rows
from .a_sync import get_rows_within_id_list as a_get_rows_within_id_list
from .a_sync import insert_data_rows as a_insert_data_rows
from .a_sync import restore_row as a_restore_row
from .a_sync import soft_delete_row as a_soft_delete_row
from .a_sync import update_row as a_update_row
from .a_sync import write_row as a_write_row
from .aggregates import Avg, Count, Max, Min, Sum
from .builder import AsyncQueryBuilder, QueryBuilder
from .cache import (
    CacheBackend,
    CacheWarning,
    InMemoryCache,
    RedisCache,
    configure_cache,
    invalidate_cache,
)
from .connection import create_async_pooled_engine, create_pooled_engine
from .exceptions import (
    BulkOperationError,
    ConflictError,
    ConstraintError,
    DatabaseConnectionError,
    MultipleRecordsError,
    QueryError,
    QueryExecutionError,
    RecordNotFoundError,
    SessionTypeError,
    SQLModelCRUDError,
    TenantError,
    TransactionError,
    UsageError,
    ValidationError,
)
from .groups import And, Not, Or
from .hooks import Hook, clear_hooks, get_hooks, register_hook, unregister_hook
from .mixins import (
    AuditMixin,
    SoftDeleteMixin,
    TimestampMixin,
    UTCDateTime,
    acting_as,
    live_only,
    with_deleted,
)
from .operators import register_lookup
from .pagination import CursorPage, Page
from .query import Q
from .retry import a_run_transaction, run_transaction
from .routing import ReplicaWarning, async_routed_sessionmaker, routed_sessionmaker
from .rowscopes import register_scope, unregister_scope, without_scopes
from .sync import (
    bulk_update_rows,
    bulk_upsert_mappings,
    delete_row,
    delete_rows_within_id_list,
    get_one_or_create,
    get_result_from_query,
    get_row,
    get_rows,
    get_rows_within_id_list,
    insert_data_rows,
    restore_row,
    soft_delete_row,
    update_row,
    write_row,
)
from .tenancy import (
    StrTenantMixin,
    TenantMixin,
    UUIDTenantMixin,
    all_tenants,
    current_tenant,
    tenant_scope,
)
from .tracking import (
    HISTORY_METADATA,
    TrackChangesMixin,
    a_get_change_history,
    get_change_history,
    register_change_tracking,
)
from .transactions import a_transaction, in_transaction, transaction
from .versioning import VersionMixin

__version__ = "0.2.0"

__all__ = [
    "And",
    "AsyncQueryBuilder",
    "AuditMixin",
    "Avg",
    "BulkOperationError",
    "CacheBackend",
    "CacheWarning",
    "ConflictError",
    "ConstraintError",
    "Count",
    "CursorPage",
    "DatabaseConnectionError",
    "HISTORY_METADATA",
    "Hook",
    "InMemoryCache",
    "Max",
    "Min",
    "MultipleRecordsError",
    "Not",
    "Or",
    "Page",
    "Q",
    "QueryBuilder",
    "QueryError",
    "QueryExecutionError",
    "RecordNotFoundError",
    "RedisCache",
    "ReplicaWarning",
    "SQLModelCRUDError",
    "SessionTypeError",
    "SoftDeleteMixin",
    "StrTenantMixin",
    "Sum",
    "TenantError",
    "TenantMixin",
    "TimestampMixin",
    "TrackChangesMixin",
    "TransactionError",
    "UTCDateTime",
    "UUIDTenantMixin",
    "UsageError",
    "ValidationError",
    "VersionMixin",
    "__version__",
    "a_bulk_update_rows",
    "a_bulk_upsert_mappings",
    "a_delete_row",
    "a_delete_rows_within_id_list",
    "a_get_change_history",
    "a_get_one_or_create",
    "a_get_result_from_query",
    "a_get_row",
    "a_get_rows",
    "a_get_rows_within_id_list",
    "a_insert_data_rows",
    "a_restore_row",
    "a_run_transaction",
    "a_soft_delete_row",
    "a_transaction",
    "a_update_row",
    "a_write_row",
    "acting_as",
    "all_tenants",
    "async_routed_sessionmaker",
    "bulk_update_rows",
    "bulk_upsert_mappings",
    "clear_hooks",
    "configure_cache",
    "create_async_pooled_engine",
    "create_pooled_engine",
    "current_tenant",
    "delete_row",
    "delete_rows_within_id_list",
    "get_change_history",
    "get_hooks",
    "get_one_or_create",
    "get_result_from_query",
    "get_row",
    "get_rows",
    "get_rows_within_id_list",
    "in_transaction",
    "insert_data_rows",
    "invalidate_cache",
    "live_only",
    "register_change_tracking",
    "register_hook",
    "register_lookup",
    "register_scope",
    "restore_row",
    "routed_sessionmaker",
    "run_transaction",
    "soft_delete_row",
    "tenant_scope",
    "transaction",
    "unregister_hook",
    "unregister_scope",
    "update_row",
    "with_deleted",
    "without_scopes",
    "write_row",
]
