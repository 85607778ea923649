"""Boolean groups of lookups: `Or`, `And`, `Not`, nestable, for `Q.where`
and `Q.exclude`.

    Q(Hero).where(
        Or(age__lt=18, And(age__gte=65, name__icontains="man")),
        Not(team__name="X"),
    )

A group holds lookup keyword arguments (``field__op=value``, as in
`Q.where`) and other groups. ``And`` joins its members with AND, ``Or``
with OR, ``Not`` negates the AND of its members. The lookups are checked
when the group is given to a query (a bad key or value raises `QueryError`
there), and their values are bound parameters like every other lookup's.

A group whose lookups all walk the same relationship path
(``Or(members__age__lt=18, members__name="Ann")``) is tested inside **one**
EXISTS on that relationship: for a to-many relationship, "a member who is
under 18 or named Ann" — and for ``And``, "one member who is both", not
"some member under 18 and some member named Ann" (which two separate
``where`` calls give). Soft-deleted related rows are left out of that EXISTS
like everywhere else.

An empty group (``Or()``) is refused, as are groups nested deeper than
`MAX_GROUP_DEPTH`.
"""

from __future__ import annotations

from typing import Any

from .exceptions import UsageError

__all__ = ["MAX_GROUP_DEPTH", "And", "Group", "Not", "Or"]

#: How deeply groups may nest (``Or(And(Not(...)))`` is depth 3).
MAX_GROUP_DEPTH = 32


class Group:
    """A boolean group of lookups and groups (see the module docs); use
    `And`, `Or` or `Not`.

    Example:
        >>> Or(age__lt=18, age__gt=65).combine, len(Or(And(a=1), b=2).members)
        ('or', 2)
    """

    combine = "and"
    __slots__ = ("lookups", "members")

    def __init__(self, *groups: Group, **lookups: Any) -> None:
        for group in groups:
            if not isinstance(group, Group):
                raise UsageError(
                    f"{type(self).__name__}() takes groups and field__op=value lookups, "
                    f"got {group!r}"
                )
        self.lookups: dict[str, Any] = lookups
        #: each member: a group, or a one-lookup dict, in the order given
        self.members: tuple[Group | tuple[str, Any], ...] = (*groups, *lookups.items())

    def __repr__(self) -> str:
        parts = [repr(m) if isinstance(m, Group) else f"{m[0]}={m[1]!r}" for m in self.members]
        return f"{type(self).__name__}({', '.join(parts)})"


class And(Group):
    """All of its members (see `sqlmodel_crud_utils.groups`).

    Example: ``Q(Hero).where(Or(And(age__gte=65, name__icontains="man"), age__lt=18))``
    """

    combine = "and"
    __slots__ = ()


class Or(Group):
    """Any of its members (see `sqlmodel_crud_utils.groups`).

    Example: ``Q(Hero).where(Or(age__lt=18, team__name="Avengers"))``
    """

    combine = "or"
    __slots__ = ()


class Not(Group):
    """Not all of its members: ``NOT (a AND b ...)`` (see
    `sqlmodel_crud_utils.groups`).

    Example: ``Q(Hero).where(Not(team__name="X"))``
    """

    combine = "not"
    __slots__ = ()
