"""Tenants: every read and write of a `TenantMixin` model is confined to
the current tenant, and nothing happens without one (fail closed).

    with tenant_scope(42):
        docs = Q(Doc).all(session)             # tenant 42's rows only
        session.add(Doc(title="x"))            # stamped tenant_id=42
        session.commit()
    Q(Doc).all(session)                        # TenantError: no tenant
    with all_tenants():                        # an explicit way out
        everything = Q(Doc).all(session)

The scope is a context variable (like `acting_as`): each thread and each
asyncio task has its own. While a tenant model is mapped, a
``do_orm_execute`` listener adds ``tenant_id = <current tenant>`` loader
criteria to every ORM statement a session runs — `Q` terminals, legacy
functions, ``session.get``, a plain ``select(Model)``, joins, relationship
filters, ``include`` and lazy loads, ``Q.update`` / ``Q.delete`` — so rows of
another tenant are never read or changed. The tenant is a bound parameter
evaluated when the statement runs, so compiled statements and `Q`'s
statement templates are shared by every tenant.

Fail closed: a statement about a tenant model with no tenant set raises
`TenantError`, and so does a flush writing one; statements that reach a
tenant model only indirectly (a relationship filter from another model)
match none of its rows. ``all_tenants()`` (a block) and ``Q.all_tenants()``
(one query, and the lazy loads of the rows it returns) read across tenants.

Writes: new rows get ``tenant_id`` from the scope; a row given another
tenant's id, a change of ``tenant_id`` and a flush of another tenant's row
raise `TenantError` before anything is written. Under ``all_tenants()``
new rows must carry their ``tenant_id``. A key of another tenant's row is
invisible: ``update_row`` / ``get_row`` find no row, exactly as for a key
that does not exist (telling them apart would tell that the key exists).

>>> with tenant_scope(7):
...     current_tenant()
7
>>> current_tenant() is None
True
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import BindParameter, Boolean, bindparam, inspect, or_, tuple_
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.interfaces import ORMOption, UserDefinedOption
from sqlalchemy.sql.cache_key import HasCacheKey
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Field

from ._memo import memoized
from .exceptions import TenantError
from .lookups import relationship_targets

__all__ = [
    "ALL_TENANTS",
    "cache_scope",
    "StrTenantMixin",
    "TenantMixin",
    "TenantScoped",
    "UUIDTenantMixin",
    "all_tenants",
    "across_tenants",
    "current_tenant",
    "check_tenant_change",
    "is_tenant_model",
    "refuse_other_tenants_keys",
    "scope_tenants",
    "stamp_tenant_rows",
    "tenant_in_exists",
    "tenant_options",
    "tenant_scope",
]

_UNSET: Any = object()
_tenant: ContextVar[Any] = ContextVar("sqlmodel_crud_utils_tenant", default=_UNSET)
_bypass: ContextVar[bool] = ContextVar("sqlmodel_crud_utils_all_tenants", default=False)

#: Execution option reading one statement across tenants.
ALL_TENANTS = "all_tenants"


class TenantScoped:
    """The base of the tenant mixins: a model deriving from it is confined
    to the current tenant (see the module docs). Use `TenantMixin`,
    `StrTenantMixin` or `UUIDTenantMixin`, which add the column.

    Example:
        >>> issubclass(TenantMixin, TenantScoped)
        True
    """


class TenantMixin(TenantScoped):
    """An integer ``tenant_id`` column (indexed, NOT NULL) confining the
    model's rows to the current tenant (see the module docs). For text or
    UUID tenant ids use `StrTenantMixin` / `UUIDTenantMixin`. Tenant ids are
    compared as given, so give `tenant_scope` values of the column's type.

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Invoice(SQLModel, TenantMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> is_tenant_model(Invoice), Invoice.__table__.c.tenant_id.nullable
        (True, False)
    """

    tenant_id: int = Field(default=None, index=True, nullable=False)


class StrTenantMixin(TenantScoped):
    """`TenantMixin` with a text ``tenant_id`` (at most 64 characters).

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Ticket(SQLModel, StrTenantMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> Ticket.__table__.c.tenant_id.type.length
        64
    """

    tenant_id: str = Field(default=None, index=True, nullable=False, max_length=64)


class UUIDTenantMixin(TenantScoped):
    """`TenantMixin` with a UUID ``tenant_id``.

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Badge(SQLModel, UUIDTenantMixin, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> is_tenant_model(Badge)
        True
    """

    tenant_id: uuid.UUID = Field(default=None, index=True, nullable=False)


def is_tenant_model(model: Any) -> bool:
    """Whether ``model`` uses `TenantMixin`.

    Example:
        >>> is_tenant_model(int)
        False
    """
    return isinstance(model, type) and issubclass(model, TenantScoped)


def current_tenant() -> Any:
    """The tenant of the innermost `tenant_scope`, or ``None``.

    Example:
        >>> with tenant_scope("acme"):
        ...     current_tenant()
        'acme'
    """
    tenant = _tenant.get()
    return None if tenant is _UNSET else tenant


@contextmanager
def tenant_scope(tenant_id: Any) -> Iterator[None]:
    """Confine the block to ``tenant_id``'s rows (nested blocks: the
    innermost wins; threads and asyncio tasks each keep their own).

    Example:
        >>> with tenant_scope(1):
        ...     with tenant_scope(2):
        ...         inner = current_tenant()
        ...     outer = current_tenant()
        >>> inner, outer
        (2, 1)
    """
    if tenant_id is None:
        raise TenantError("tenant_scope() needs a tenant id, got None")
    token = _tenant.set(tenant_id)
    bypass = _bypass.set(False)
    try:
        yield
    finally:
        _bypass.reset(bypass)
        _tenant.reset(token)


@contextmanager
def all_tenants() -> Iterator[None]:
    """Read and write across tenants in the block (administration,
    migrations, background jobs): the explicit way out of the fail-closed
    scope. New rows must then carry their ``tenant_id``.

    Example:
        >>> with all_tenants():
        ...     across_tenants()
        True
    """
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def across_tenants() -> bool:
    """Whether the code runs inside `all_tenants`.

    Example:
        >>> across_tenants()
        False
    """
    return _bypass.get()


# ------------------------------------------------------------------ reads


#: The current tenant, read when a statement runs (so one compiled
#: statement serves every tenant).
def _tenant_to_bind() -> Any:
    """The current tenant for a statement about to run; `TenantError`
    when none is set (outside `all_tenants`): fail closed."""
    tenant = _tenant.get()
    if tenant is _UNSET:
        if _bypass.get():
            return None
        raise TenantError(
            "a statement reads tenant-scoped rows and no tenant is set: wrap the code in "
            "tenant_scope(...) (or all_tenants() to read across tenants)"
        )
    return tenant


_TENANT: BindParameter[Any] = bindparam("sqlmodel_crud_tenant", callable_=_tenant_to_bind)


def _own_rows(cls: Any) -> Any:
    return cls.tenant_id == _TENANT


#: Loader criteria confining the tenant models of a statement, one per
#: mixin (the criterion is analysed on the class that has the column);
#: statements carry all of them (see `tenant_options`).
_CRITERIA_BY_MIXIN: dict[type[Any], ORMOption] = {
    mixin: with_loader_criteria(mixin, _own_rows, include_aliases=True)
    for mixin in (TenantMixin, StrTenantMixin, UUIDTenantMixin)
}
TENANT_CRITERIA: tuple[ORMOption, ...] = tuple(_CRITERIA_BY_MIXIN.values())


class _AcrossTenants(HasCacheKey, UserDefinedOption):
    """Statement option of ``Q.all_tenants()``: the statement and the lazy
    loads of the rows it loads read across tenants."""

    _cache_key_traversal = [("payload", InternalTraversal.dp_plain_obj)]  # noqa: RUF012
    propagate_to_loaders = True


#: The option ``Q.all_tenants()`` adds.
ACROSS_TENANTS: ORMOption = _AcrossTenants(True)


#: Whether the statement runs inside `all_tenants`, read when it runs.
_ACROSS: BindParameter[bool] = bindparam(
    "sqlmodel_crud_all_tenants", callable_=across_tenants, type_=Boolean()
)


def tenant_in_exists(model: type[Any]) -> Any:
    """The tenant criterion of ``model``'s rows inside a relationship
    filter's EXISTS, which loader criteria do not reach on SQLAlchemy 2.0:
    the current tenant's rows, or every row inside `all_tenants`; ``None``
    for a model without `TenantMixin`.

    Example:
        >>> tenant_in_exists(int) is None
        True
    """
    return or_(_ACROSS, _own_rows(model)) if is_tenant_model(model) else None


def scope_tenants(state: ORMExecuteState) -> None:
    """The ``do_orm_execute`` listener (see the module docs). Besides the
    criteria, it gives the rows a statement loads an identity token of the
    tenant they were read in (or of reads across tenants), so the session's
    identity map is partitioned by tenant: ``session.get`` in one tenant's
    scope never answers with a row another scope loaded."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    mappers = [*state.all_mappers, *((state.bind_mapper,) if state.bind_mapper else ())]
    if not any(_reaches_tenants(mapper.class_, "") for mapper in mappers):
        return  # a statement that cannot read a tenant model's rows
    across = (
        _bypass.get()
        or bool(state.execution_options.get(ALL_TENANTS))
        or any(isinstance(option, _AcrossTenants) for option in state.user_defined_options)
    )
    tenant = _tenant.get()
    if not across and tenant is _UNSET:
        for mapper in mappers:
            if is_tenant_model(mapper.class_):
                raise TenantError(
                    f"{mapper.class_.__name__} is scoped by tenant and no tenant is set: "
                    "wrap the code in tenant_scope(...) (or all_tenants() to read across "
                    "tenants)",
                    model=mapper.class_,
                )
    if state.is_select:
        state.update_execution_options(
            identity_token=_ACROSS_TOKEN if across or tenant is _UNSET else (_TOKEN, tenant)
        )
    if across:
        return
    statement = state.statement
    options = getattr(statement, "_with_options", ())
    missing = [option for option in TENANT_CRITERIA if option not in options]
    if missing:
        state.statement = statement.options(*missing)


#: Identity tokens: a row read in tenant ``t``'s scope is keyed with
#: ``(_TOKEN, t)``, one read across tenants with `_ACROSS_TOKEN`.
_TOKEN = "sqlmodel_crud_utils.tenant"
_ACROSS_TOKEN = "sqlmodel_crud_utils.all_tenants"


def tenant_options(model: type[Any], across: bool) -> tuple[ORMOption, ...]:
    """The options `Q` puts on a statement about ``model``: the tenant
    criteria (unless ``across``, `Q.all_tenants`, or inside `all_tenants`),
    or the across-tenants marker; none for a model that reaches no tenant
    model.

    Example:
        >>> from sqlmodel import SQLModel
        >>> class Plainly(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> tenant_options(Plainly, False)
        ()
    """
    if not isinstance(model, type) or not _reaches_tenants(model, ""):
        return ()
    if across:
        return (ACROSS_TENANTS,)
    # every mixin's criterion: the listener then finds the statement complete
    # (adding one would make a new statement, and its cache key, per execution)
    return () if _bypass.get() else TENANT_CRITERIA


def cache_scope(model: type[Any], across: bool = False) -> str:
    """The tenant part of a result-cache key for a read of ``model``:
    ``""`` for a model that reaches no tenant model, ``"*"`` across tenants
    (``across``: `Q.all_tenants`, or inside `all_tenants`), else the current
    tenant; `TenantError` when none is set (a cached read fails closed too).

    Example:
        >>> cache_scope(TenantMixin)
        ''
    """
    if not isinstance(model, type) or not hasattr(model, "__mapper__"):
        return ""
    if not _reaches_tenants(model, ""):
        return ""
    if across or _bypass.get():
        return "*"
    tenant = _tenant.get()
    if tenant is _UNSET:
        raise TenantError(
            f"{model.__name__} is scoped by tenant and no tenant is set: wrap the code in "
            "tenant_scope(...) (or all_tenants() to read across tenants)",
            model=model,
        )
    return f"{type(tenant).__name__}:{tenant!r}"


@memoized
def _reaches_tenants(model: type[Any], _: str) -> bool:
    """Whether ``model`` is a tenant model or reaches one through
    relationships (its statements may read tenant rows)."""
    return any(map(is_tenant_model, relationship_targets(model)))


# ------------------------------------------------------------------ writes


def check_flush(session: Session) -> None:
    """Stamp and check the tenant rows a flush writes (called by the
    library's ``before_flush`` listener): `TenantError` before anything is
    written for a row of another tenant, a changed ``tenant_id``, or no
    tenant set."""
    bypass = _bypass.get()
    tenant = _tenant.get()
    obj: Any
    for obj in session.new:
        if is_tenant_model(type(obj)):
            obj.tenant_id = _stamped(type(obj), obj.tenant_id, tenant, bypass)
            # keyed in its tenant's part of the identity map (see `scope_tenants`)
            inspect(obj).identity_token = (_TOKEN, obj.tenant_id)
    for obj in (*session.dirty, *session.deleted):
        if bypass or not is_tenant_model(type(obj)):
            continue
        history = inspect(obj).attrs.tenant_id.history
        owner = history.deleted[0] if history.deleted else obj.tenant_id
        if history.added and history.deleted:
            raise TenantError(
                f"{type(obj).__name__}: tenant_id cannot change ({owner!r} -> "
                f"{obj.tenant_id!r}) inside a tenant scope; use all_tenants()",
                model=type(obj),
            )
        _stamped(type(obj), owner, tenant, bypass)


def _stamped(model: type[Any], given: Any, tenant: Any, bypass: bool) -> Any:
    """The tenant id a row of ``model`` is written with (``given``, or the
    current tenant when none is given), or `TenantError`."""
    if bypass:
        if given is None:
            raise TenantError(
                f"{model.__name__}: a row written under all_tenants() needs its tenant_id",
                model=model,
            )
        return given
    if tenant is _UNSET:
        raise TenantError(
            f"{model.__name__} is scoped by tenant and no tenant is set: wrap the write in "
            "tenant_scope(...)",
            model=model,
        )
    if given is not None and given != tenant:
        raise TenantError(
            f"{model.__name__}: row of tenant {given!r} written in tenant {tenant!r}'s scope",
            model=model,
            tenant=given,
        )
    return tenant


def check_tenant_change(model: type[Any], value: Any) -> None:
    """Refuse, as `TenantError`, a set-based write moving rows of a tenant
    model to tenant ``value`` (another than the current one).

    Example:
        >>> with tenant_scope(1):
        ...     check_tenant_change(TenantMixin, 1)
    """
    if is_tenant_model(model) and not _bypass.get():
        _stamped(model, value, _tenant.get(), False)


def stamp_tenant_rows(
    model: type[Any], rows: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """``rows`` (mappings for a bulk write of ``model``) with ``tenant_id``
    filled from the scope (new dicts); `TenantError` for a row of another
    tenant or no tenant set. Rows of other models are returned as they are.

    Example:
        >>> with tenant_scope(3):
        ...     stamp_tenant_rows(TenantMixin, [{"name": "a"}])
        [{'name': 'a', 'tenant_id': 3}]
    """
    if not is_tenant_model(model):
        return list(rows)
    bypass, tenant = _bypass.get(), _tenant.get()
    return [
        {**row, "tenant_id": _stamped(model, row.get("tenant_id"), tenant, bypass)} for row in rows
    ]


def refuse_other_tenants_keys(
    session: Session, model: type[Any], key_fields: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse, as `TenantError` before anything is written, an upsert of
    ``rows`` whose key (``key_fields``) belongs to another tenant's row: its
    ON CONFLICT would overwrite that row. One keyed SELECT across tenants.

    Example: ``refuse_other_tenants_keys(session, Doc, ["id"], [{"id": 7, ...}])``.
    """
    if not is_tenant_model(model) or _bypass.get():
        return
    from .lookups import primary_key_names
    from .query import Q

    # the upsert's key, and the primary key (MySQL/MariaDB's ON DUPLICATE KEY
    # fires on any unique key, the primary key included)
    for fields in dict.fromkeys((tuple(key_fields), primary_key_names(model))):
        keys = [row for row in rows if all(row.get(name) is not None for name in fields)]
        if not keys:
            continue
        columns = [getattr(model, name) for name in fields]
        wanted = {tuple(row[name] for name in fields) for row in keys}
        found = Q(model).all_tenants().where(tuple_(*columns).in_(list(wanted)))
        others = found.where(tenant_id__ne=_tenant.get()).soft("include")
        taken = others.values_list(session, *fields, "tenant_id")
        if taken:
            raise TenantError(
                f"{model.__name__}: key {taken[0][:-1]!r} belongs to tenant "
                f"{taken[0][-1]!r}; nothing was written",
                model=model,
                tenant=taken[0][-1],
            )
