"""Model mixins, as 0.2.0 laid them out: re-exported from their homes.

Each concern has its own module; this one keeps ``from
sqlmodel_crud_utils.mixins import ...`` working for every name it exported:

* `sqlmodel_crud_utils.scopes`: `SoftDeleteMixin` and the soft-delete
  scope (`live_only`, `with_deleted`, `soft_scope`, ...);
* `sqlmodel_crud_utils.audit`: `AuditMixin`, `acting_as`, `current_user`,
  `utc_now`, `audit_update_values`;
* `sqlmodel_crud_utils.types`: `UTCDateTime`;
* `sqlmodel_crud_utils._listeners`: the session listeners keeping both
  mixins true, installed when the first mixin model is mapped.

>>> from sqlmodel import Field, SQLModel
>>> class Note(SQLModel, AuditMixin, SoftDeleteMixin, table=True):
...     id: int | None = Field(default=None, primary_key=True)
>>> note = Note()
>>> note.soft_delete(user="ada")
>>> note.is_deleted, note.deleted_by
(True, 'ada')
"""

from __future__ import annotations

from . import _listeners  # noqa: F401  (installs the session listeners, see there)
from .audit import (
    AuditMixin,
    TimestampMixin,
    UTCNow,
    acting_as,
    audit_update_values,
    current_user,
    is_audit_model,
    is_timestamp_model,
    utc_now,
)
from .scopes import INCLUDE_DELETED as INCLUDE_DELETED
from .scopes import (
    SoftDeleteMixin,
    has_soft_scope,
    is_soft_delete_model,
    live_only,
    soft_scope,
    soft_scope_of,
    with_deleted,
)
from .types import UTCDateTime

__all__ = [
    "AuditMixin",
    "SoftDeleteMixin",
    "TimestampMixin",
    "UTCDateTime",
    "UTCNow",
    "acting_as",
    "audit_update_values",
    "current_user",
    "has_soft_scope",
    "is_audit_model",
    "is_soft_delete_model",
    "is_timestamp_model",
    "live_only",
    "soft_scope",
    "soft_scope_of",
    "utc_now",
    "with_deleted",
]
