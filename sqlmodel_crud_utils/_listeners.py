"""The session listeners that keep the mixins true, and when they are installed.

Two listeners for every `Session` (SQLModel's, SQLAlchemy's, and the one
inside each `AsyncSession`), installed when the first model using a mixin
is mapped (a process without one runs neither), keep the mixins true for
writes and reads made without this library's helpers:

* ``before_flush`` (`_stamp_before_flush`, here) stamps `AuditMixin` and
  `SoftDeleteMixin` instances on ``session.add()`` + commit, both in one
  pass over the flushed objects;
* ``do_orm_execute`` (`sqlmodel_crud_utils.scopes._scope_relationship_loads`)
  makes every *relationship load* of a soft-delete model live-only.

Mapping a `TenantMixin` model installs the tenant scope's two listeners
(`sqlmodel_crud_utils.tenancy`): reads confined to the current tenant, and
flushes stamped and checked.

Mapping a `TrackChangesMixin` model installs the change-history flush
listeners (`sqlmodel_crud_utils._history`) the same way.

Neither `audit` nor `scopes` imports the other's mixin, so the listener
that needs both lives here, above them.

    >>> from sqlalchemy import event
    >>> from sqlalchemy.orm import Mapper
    >>> event.contains(Mapper, "mapper_configured", _install_listeners)
    True
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session

from ._history import install_tracking
from .audit import AuditMixin, current_user, is_audit_model, utc_now
from .scopes import SoftDeleteMixin, _scope_relationship_loads, is_soft_delete_model
from .tenancy import check_flush, is_tenant_model, scope_tenants
from .tracking import is_tracked_model
from .versioning import is_versioned_model, remember_versions

__all__: list[str] = []


def _stamp_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    now = utc_now()
    user = current_user()
    for obj in session.new:
        if isinstance(obj, AuditMixin):
            if obj.created_at is None:  # set to None after construction
                obj.created_at = now
            if obj.created_by is None:
                obj.created_by = user
        if isinstance(obj, SoftDeleteMixin) and obj.is_deleted:
            _fill_deletion(obj, now, user)
    for obj in session.dirty:
        if not isinstance(obj, AuditMixin | SoftDeleteMixin):
            continue
        if not session.is_modified(obj, include_collections=False):
            continue
        state: Any = inspect(obj)
        attrs = state.attrs
        if isinstance(obj, AuditMixin):
            if not attrs.updated_at.history.has_changes():
                obj.updated_at = now
            if user is not None and not attrs.updated_by.history.has_changes():
                obj.updated_by = user
        if isinstance(obj, SoftDeleteMixin) and attrs.is_deleted.history.added == [True]:
            _fill_deletion(obj, now, user)


def _fill_deletion(obj: SoftDeleteMixin, now: dt.datetime, user: str | None) -> None:
    if obj.deleted_at is None:
        obj.deleted_at = now
    if obj.deleted_by is None:
        obj.deleted_by = user


def _install_listeners(mapper: Mapper[Any], model: type[Any]) -> None:
    """Session listeners exist only once a mixin model is mapped: a process
    (or code) that never maps one pays nothing for them."""
    if is_audit_model(model) or is_soft_delete_model(model):
        _listen_once(Session, "before_flush", _stamp_before_flush)
    if is_soft_delete_model(model):
        _listen_once(Session, "do_orm_execute", _scope_relationship_loads)
    if is_tracked_model(model):
        install_tracking()
    if is_versioned_model(model):
        _listen_once(Session, "before_flush", remember_versions)
    if is_tenant_model(model):
        _listen_once(Session, "before_flush", _check_tenants_before_flush)
        _listen_once(Session, "do_orm_execute", scope_tenants)


def _check_tenants_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    check_flush(session)


def _listen_once(target: Any, name: str, listener: Any) -> None:
    if not event.contains(target, name, listener):
        event.listen(target, name, listener)


_listen_once(Mapper, "mapper_configured", _install_listeners)
