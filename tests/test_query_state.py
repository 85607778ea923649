"""Process-wide state: memos bounded and refreshed on mapper configuration,
relationship paths capped, keys validated before hashing, hooks thread-safe."""

from __future__ import annotations

import itertools
import threading
import uuid

import pytest
from sqlalchemy import inspect
from sqlmodel import Field, Relationship, Session, SQLModel

from sqlmodel_crud_utils import (
    Q,
    QueryError,
    SoftDeleteMixin,
    clear_hooks,
    get_hooks,
    register_hook,
)
from sqlmodel_crud_utils._memo import MEMO_SIZE, memo_sizes
from sqlmodel_crud_utils.lookups import MAX_PATH_DEPTH, parse_lookup
from tests.models import Hero

pytestmark = pytest.mark.filterwarnings("error")


#: Hero -> team -> members -> team -> ... alternating, ``hops`` relationships long.
def cyclic_path(hops: int) -> str:
    names = itertools.islice(itertools.cycle(["team", "members"]), hops)
    return "__".join(names)


def cyclic_keys(model: type, limit: int) -> list[str]:
    """Distinct valid lookup keys walking the relationship cycles of ``model``
    (``team__members__team__city__teams__...``), breadth first."""
    keys: list[str] = []
    level = [("", model)]
    for _ in range(MAX_PATH_DEPTH + 1):
        for prefix, current in level:
            mapper = inspect(current)
            for column in [prop.key for prop in mapper.column_attrs]:
                for op in ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "isnull"):
                    keys.append(f"{prefix}{column}__{op}")
        level = [
            (f"{prefix}{name}__", rel.mapper.class_)
            for prefix, current in level
            for name, rel in inspect(current).relationships.items()
        ]
    assert len(keys) >= limit
    return keys[-limit:]  # the deepest ones


def test_a_thousand_distinct_cyclic_paths_leave_the_memo_bounded():
    keys = cyclic_keys(Hero, 1000)
    assert len(set(keys)) == 1000 > MEMO_SIZE
    assert max(key.count("__") for key in keys) == MAX_PATH_DEPTH + 1
    for key in keys:
        parse_lookup(Hero, key)
    sizes = memo_sizes(Hero)
    assert sizes, "nothing memoized on Hero"
    assert all(size <= MEMO_SIZE for size in sizes.values()), sizes
    # the most recent keys are still served from the memo
    assert parse_lookup(Hero, keys[-1]) is parse_lookup(Hero, keys[-1])


def test_memo_never_exceeds_its_size_with_a_thousand_distinct_keys():
    for i in range(1000):
        Q(Hero).order_by(*(["-age"] if i % 2 else ["age"])).where(
            **{"team__members__name__in": [str(i)]}
        )
        Q(Hero).only("name")
    for name in range(1000):
        with pytest.raises(QueryError):
            parse_lookup(Hero, f"{cyclic_path(2)}__nope{name}")
    assert all(size <= MEMO_SIZE for size in memo_sizes(Hero).values())


@pytest.mark.parametrize("hops", [MAX_PATH_DEPTH + 1, 10, 100, 3000])
def test_a_path_deeper_than_the_cap_raises_query_error(hops):
    with pytest.raises(QueryError, match=f"more than {MAX_PATH_DEPTH} relationships") as info:
        Q(Hero).where(**{f"{cyclic_path(hops)}__name": "x"})
    assert info.value.key.startswith("team__members")
    with pytest.raises(QueryError, match=f"more than {MAX_PATH_DEPTH} relationships"):
        Q(Hero).include(".".join(cyclic_path(hops).split("__")))


def test_a_path_at_the_cap_compiles_on_every_dialect():
    q = Q(Hero).where(**{f"{cyclic_path(MAX_PATH_DEPTH)}__name": "x"})
    for dialect in ("sqlite", "postgresql", "mysql"):
        assert q.sql(dialect).count("EXISTS") == MAX_PATH_DEPTH


async def test_a_path_at_the_cap_runs(db):
    db.seed(Hero(name="x"))
    q = Q(Hero).where(**{f"{cyclic_path(MAX_PATH_DEPTH)}__name": "x"})
    assert await db.run(q, "count") == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda: Q(Hero).only(["name"]),
        lambda: Q(Hero).order_by(["name"]),
        lambda: Q(Hero).include(["team"]),
        lambda: Q(Hero).include("team", strategy=["joined"]),
        lambda: Q(Hero).soft(["only"]),
        lambda: Q(Hero).sql(["sqlite"]),
        lambda: Q(Hero).where(**{"name": {"a": 1}}),
    ],
)
def test_unhashable_arguments_are_query_errors(build):
    with pytest.raises(QueryError):
        build()


def test_a_backref_added_later_is_seen_by_the_next_query(backend):
    suffix = uuid.uuid4().hex[:8]
    parent = type(
        f"RcParent{suffix}",
        (SQLModel,),
        {
            "__tablename__": f"rc_parent_{suffix}",
            "__annotations__": {"id": int | None, "name": str},
            "id": Field(default=None, primary_key=True),
            "name": Field(default="", max_length=20),
        },
        table=True,
    )
    # queried before the child exists: memos hold the parent's old mapping
    assert "EXISTS" not in Q(parent).where(name="p").soft("exclude").sql("sqlite")
    assert Q(parent).soft("only").statement is not None
    with pytest.raises(QueryError, match="unknown relationship"):
        Q(parent).include("children")
    child = type(
        f"RcChild{suffix}",
        (SQLModel, SoftDeleteMixin),
        {
            "__tablename__": f"rc_child_{suffix}",
            "__annotations__": {
                "id": int | None,
                "name": str,
                "parent_id": int | None,
                "parent": parent | None,
            },
            "id": Field(default=None, primary_key=True),
            "name": Field(default="", max_length=20),
            "parent_id": Field(default=None, foreign_key=f"rc_parent_{suffix}.id"),
            "parent": Relationship(sa_relationship_kwargs={"backref": "children"}),
        },
        table=True,
    )
    tables = [parent.__table__, child.__table__]
    try:
        for table in tables:
            table.create(backend.engine)
        with Session(backend.engine) as session:
            p = parent(name="p")
            session.add(p)
            session.flush()
            session.add_all(
                [
                    child(name="live", parent_id=p.id),
                    child(name="gone", parent_id=p.id, is_deleted=True),
                ]
            )
            session.commit()
        with Session(backend.engine) as session:
            assert "children" in inspect(parent).relationships
            loaded = Q(parent).include("children").all(session)
            assert [c.name for c in loaded[0].children] == ["live"]
            assert Q(parent).where(children__name="gone").count(session) == 0
            assert Q(parent).where(children__name="live").count(session) == 1
    finally:
        for table in reversed(tables):
            table.drop(backend.engine, checkfirst=True)
        for table in tables:
            SQLModel.metadata.remove(table)


def test_hook_registration_from_many_threads_registers_each_hook_once():
    class Target: ...

    hooks = [object() for _ in range(50)]
    start = threading.Barrier(8)

    def register_all():
        start.wait()
        for hook in hooks:
            register_hook(Target, hook)

    threads = [threading.Thread(target=register_all) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert get_hooks(Target) == hooks
    finally:
        clear_hooks()


def test_get_hooks_returns_a_snapshot():
    class Target: ...

    first, second = object(), object()
    try:
        register_hook(Target, first)
        seen = get_hooks(Target)
        register_hook(Target, second)
        assert seen == [first]
        assert get_hooks(Target) == [first, second]
    finally:
        clear_hooks()
