"""Lookup criteria: checked when added to a `Q`, turned into SQL when the
statement is built.

``where(age__gt="30")`` parses the key and checks and converts the value at
once (a bad one raises `QueryError` there), and keeps the result as a
`LookupCriterion`. Its clause is built only with the statement, with each
value bound by a `Binder`: as an anonymous parameter carrying the value
(`literal_binder`, for `Q.statement` and `Q.sql`), or as a named
placeholder (``q0``, ``q1``, ...) that a statement template re-binds on
every execution (see `sqlmodel_crud_utils._templates`). The SQL also
depends on the query's soft-delete scope, known only then: relationship
filters reaching soft-delete models get ``is_deleted = false`` inside their
EXISTS where the scope's loader criteria do not reach.

    >>> from sqlmodel import Field, SQLModel
    >>> class Osprey(SQLModel, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     wingspan: int = 0
    >>> criterion = LookupCriterion.of(Osprey, {"wingspan__gt": "90"}, "and")
    >>> criterion.values, criterion.shape is not None
    ((90,), True)
    >>> print(criterion.clause("exclude", literal_binder))
    osprey.wingspan > :wingspan_1
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, and_, not_, or_

from ._compat import LOADER_CRITERIA_IN_EXISTS
from .exceptions import QueryError
from .groups import MAX_GROUP_DEPTH, Group
from .lookups import EXPANDING, Lookup, is_expression, parse_lookup
from .operators import Operator, Parameterised
from .rowscopes import related_scope_criteria
from .scopes import live_link, live_related_for, unscoped
from .tenancy import is_tenant_model, tenant_in_exists

__all__ = ["Binder", "LookupCriterion", "literal_binder", "placeholder_binder"]

#: ``bind(index, lookup, value, operator)``: the operand made of the
#: ``index``-th value of a query, compared by ``operator`` with ``lookup``'s
#: column (see `sqlmodel_crud_utils.operators.Bind`).
Binder = Callable[[int, Lookup, Any, Callable[..., Any]], Any]


def literal_binder(_: int, lookup: Lookup, value: Any, operator: Callable[..., Any]) -> Any:
    """Each value as an anonymous parameter carrying it (``:age_1``), or as
    itself when it is a SQL expression (see `Lookup.bind`).

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Jay(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> from sqlalchemy.sql import operators
        >>> literal_binder(0, parse_lookup(Jay, "id"), 4, operators.eq).value
        4
    """
    return lookup.bind(value, operator)


def placeholder_binder(
    index: int, lookup: Lookup, value: Any, operator: Callable[..., Any]
) -> BindParameter[Any]:
    """Each value as the placeholder ``q<index>``, typed for ``value`` (a
    template serves only values of the same Python type, see
    `LookupCriterion.shape`); the value is given on execution.

    Example:
        >>> from sqlmodel import Field, SQLModel
        >>> class Kea(SQLModel, table=True):
        ...     id: int | None = Field(default=None, primary_key=True)
        >>> from sqlalchemy.sql import operators
        >>> placeholder_binder(2, parse_lookup(Kea, "id"), 4, operators.eq).key
        'q2'
    """
    return BindParameter(
        f"q{index}",
        type_=lookup.compared_type(operator, value),
        expanding=operator in EXPANDING,
    )


_COMBINE: dict[str, Callable[[list[ColumnElement[bool]]], ColumnElement[bool]]] = {
    "and": lambda clauses: clauses[0] if len(clauses) == 1 else and_(*clauses),
    "or": lambda clauses: or_(*clauses),
    "not": lambda clauses: not_(and_(*clauses)),
}


def _kinds(values: tuple[Any, ...]) -> tuple[type[Any] | None, ...] | None:
    """The Python type of each value (of a list's first item), which
    decides the SQL type SQLAlchemy binds it with; ``None`` when a value is
    a SQL expression (its SQL is part of the statement)."""
    kinds: list[type[Any] | None] = []
    for value in values:
        kind = type(value)
        if kind not in _PLAIN and is_expression(value):
            return None
        kinds.append((type(value[0]) if value else None) if kind is list else kind)
    return tuple(kinds)


#: Value types that are never SQL expressions (checked without a call).
_PLAIN = frozenset({int, str, float, bool, type(None), bytes})


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One lookup and its checked value: ``shape`` and ``values`` for a
    parameterised operator, ``built`` (the clause) for any other."""

    lookup: Lookup
    shape: Hashable
    values: tuple[Any, ...]
    built: ColumnElement[bool] | None


def _lookup_item(model: type[Any], key: str, value: Any) -> tuple[_Prepared, Hashable | None]:
    """Lookup ``key=value`` of ``model``, checked, with its shape (``None``:
    a statement of its own, see `LookupCriterion.shape`)."""
    item = _prepare(parse_lookup(model, key), value)
    kinds = None if item.built is not None else _kinds(item.values)
    return item, None if kinds is None else (key, item.shape, kinds)


def _prepare(lookup: Lookup, value: Any) -> _Prepared:
    lookup = lookup.for_value(value)
    operator = cast("Operator", lookup.operator)
    form = operator.parameterised
    if form is None:
        # An operator added with register_lookup: built (and so checked) now;
        # its statements are not templated.
        return _Prepared(lookup, None, (), operator.build(lookup, value))
    shape, values = form.prepare(lookup, value)
    return _Prepared(lookup, shape, values, None)


@dataclass(frozen=True, slots=True)
class LookupCriterion:
    """The lookups of one `Q.where` key (``"and"``), one `Q.where_any`
    call (``"or"``) or one `Q.exclude` call (``"not"``); or one boolean
    group (`sqlmodel_crud_utils.groups`), whose items may be groups too.

    Attributes:
        model: the query's model.
        combine: how the lookups are joined: ``"and"``, ``"or"``, ``"not"``.
        items: each lookup with its checked value, or a nested group.
        shape: what the SQL depends on besides the values (keys, operators,
            ``NULL`` or not, and the Python type of each bound value, which
            decides its SQL type); ``None`` when the SQL depends on more: an
            operator added with `register_lookup`, or a SQL expression as a
            value.
        values: the values to bind, in the order of `clause`'s parameters.
        grouped: a boolean group: lookups that all walk one relationship
            path are tested inside one EXISTS.

    Example: ``LookupCriterion.of(Hero, {"age__lt": 3, "age__gt": 9}, "or")``.
    """

    model: type[Any]
    combine: str
    items: tuple[_Prepared | LookupCriterion, ...]
    shape: Hashable | None
    values: tuple[Any, ...]
    grouped: bool = False

    @classmethod
    def of(cls, model: type[Any], lookups: Mapping[str, Any], combine: str) -> LookupCriterion:
        """Parse and check ``lookups`` of ``model`` (`QueryError` for a bad
        key or value) into one criterion."""
        members = [_lookup_item(model, key, value) for key, value in lookups.items()]
        return cls._assembled(model, combine, members, grouped=False)

    @classmethod
    def of_group(cls, model: type[Any], group: Group, depth: int = 1) -> LookupCriterion:
        """Parse and check a boolean group of ``model``'s lookups (nested
        groups included) into one criterion; `QueryError` for a bad key or
        value, an empty group or nesting deeper than `MAX_GROUP_DEPTH`."""
        name = type(group).__name__
        if depth > MAX_GROUP_DEPTH:
            raise QueryError(
                f"groups nest deeper than {MAX_GROUP_DEPTH} levels", model=model, key=name
            )
        if not group.members:
            raise QueryError(f"{name}() has no lookups or groups", model=model, key=name)
        members: list[tuple[_Prepared | LookupCriterion, Hashable | None]] = []
        for member in group.members:
            if isinstance(member, Group):
                nested = cls.of_group(model, member, depth + 1)
                members.append((nested, nested.shape))
            else:
                members.append(_lookup_item(model, *member))
        return cls._assembled(model, group.combine, members, grouped=True)

    @classmethod
    def _assembled(
        cls,
        model: type[Any],
        combine: str,
        members: Sequence[tuple[_Prepared | LookupCriterion, Hashable | None]],
        *,
        grouped: bool,
    ) -> LookupCriterion:
        """One criterion of checked ``members`` (each with its shape)."""
        shapes = tuple(shape for _, shape in members)
        shape = None if None in shapes else (combine, grouped, shapes)
        values = tuple(value for item, _ in members for value in item.values)
        return cls(model, combine, tuple(item for item, _ in members), shape, values, grouped)

    def clause(self, mode: str, bind: Binder, first: int = 0) -> ColumnElement[bool]:
        """The SQL of this criterion under soft-delete scope ``mode``, its
        values bound by ``bind`` as the query's values ``first``, ``first + 1``, ..."""
        related = self._related(mode)
        if not self.grouped:  # lookups only (`where`, `where_any`, `exclude`)
            return self._plain_clause(related, bind, first)
        shared = self._shared_path()
        clauses: list[ColumnElement[bool]] = []
        index = first
        for item in self.items:
            if isinstance(item, LookupCriterion):
                clauses.append(item.clause(mode, bind, index))
                index += len(item.values)
                continue
            condition = item.built
            if condition is None:
                condition = self._render(item, bind, index)
                index += len(item.values)
            if item.lookup.hops and shared is None:
                condition = item.lookup.through_hops(condition, related)
            clauses.append(condition)
        if shared is None:
            return _COMBINE[self.combine](clauses)
        # one EXISTS for the whole group; NOT outside it
        inside = _COMBINE["and" if self.combine == "not" else self.combine](clauses)
        reached = shared.through_hops(inside, related)
        return not_(reached) if self.combine == "not" else reached

    def _plain_clause(self, related: Any, bind: Binder, first: int) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = []
        index = first
        for item in cast("tuple[_Prepared, ...]", self.items):
            condition = item.built
            if condition is None:
                condition = self._render(item, bind, index)
                index += len(item.values)
            clauses.append(
                item.lookup.through_hops(condition, related) if item.lookup.hops else condition
            )
        return _COMBINE[self.combine](clauses)

    def _shared_path(self) -> Lookup | None:
        """A lookup of this group's one relationship path, when every item
        is a lookup walking that same path (``None`` otherwise)."""
        paths = set()
        for item in self.items:
            if isinstance(item, LookupCriterion) or not item.lookup.hops:
                return None
            paths.add(tuple((hop.target, hop.attribute.key) for hop in item.lookup.hops))
        first = self.items[0]
        return first.lookup if len(paths) == 1 and isinstance(first, _Prepared) else None

    @staticmethod
    def _render(item: _Prepared, bind: Binder, first: int) -> ColumnElement[bool]:
        lookup, values = item.lookup, item.values
        form = cast("Parameterised", cast("Operator", lookup.operator).parameterised)
        return form.render(
            lookup,
            item.shape,
            lambda offset, operator: bind(first + offset, lookup, values[offset], operator),
        )

    def _related(self, mode: str) -> Any:
        """The criteria the row scopes need inside EXISTS clauses for the
        relationship targets their loader criteria do not reach there:
        ``is_deleted = false`` under soft-delete scope ``mode``, and (on
        SQLAlchemy 2.0) the current tenant; ``None`` when there are none."""
        items = self.items
        if self.grouped:
            items = tuple(item for item in items if isinstance(item, _Prepared))
        targets = {hop.target for item in items for hop in item.lookup.hops}  # type: ignore[union-attr]
        if not targets:
            return None  # no relationship filter: no EXISTS to add to
        soft = mode != "include" and any(unscoped(self.model, t, mode) for t in targets)
        tenant = not LOADER_CRITERIA_IN_EXISTS and any(map(is_tenant_model, targets))
        own = not LOADER_CRITERIA_IN_EXISTS and any(map(related_scope_criteria, targets))
        links = mode != "include" and any(
            live_link(hop.attribute.property) is not None
            for item in items
            for hop in item.lookup.hops  # type: ignore[union-attr]
        )
        if not (soft or tenant or own or links):
            return None
        live = live_related_for(self.model, mode) if soft else None

        def criteria(target: type[Any]) -> ColumnElement[bool] | None:
            found = [
                criterion
                for criterion in (
                    live(target) if live else None,
                    tenant_in_exists(target) if tenant else None,
                    *(related_scope_criteria(target) if own else ()),
                )
                if criterion is not None
            ]
            return and_(*found) if len(found) > 1 else (found[0] if found else None)

        return criteria
