"""Tenant scope (`TenantMixin`, `tenant_scope`, `all_tenants`): a leak
matrix of every read path on every backend, sync and async; fail closed
without a scope; cross-tenant writes refused with nothing written; threads
and asyncio tasks each in their own tenant."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import exists, func
from sqlalchemy.orm import joinedload
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import (
    Count,
    InMemoryCache,
    Q,
    TenantError,
    a_get_row,
    a_get_rows,
    a_get_rows_within_id_list,
    all_tenants,
    bulk_upsert_mappings,
    configure_cache,
    get_row,
    get_rows,
    get_rows_within_id_list,
    insert_data_rows,
    tenant_scope,
    write_row,
)
from tests.models_tenancy import TnNote, TnOrg, TnPlan, TnUser

PREFIX = {1: "a", 2: "b"}
TENANT_OF_PREFIX = {"a": 1, "b": 2}


def seed(db: Any) -> dict[str, Any]:
    """Two tenants, interleaved: each org has users of its own tenant and
    one of the other's (a cross-tenant foreign key), both under one plan."""
    plan = TnPlan(name="shared")
    a_org = TnOrg(name="a-org", tenant_id=1, plan=plan)
    b_org = TnOrg(name="b-org", tenant_id=2, plan=plan)
    rows = [
        TnUser(name="a1", age=10, tenant_id=1, org=a_org),
        TnUser(name="b1", age=11, tenant_id=2, org=b_org),
        TnUser(name="a2", age=12, tenant_id=1, org=a_org),
        TnUser(name="b2", age=13, tenant_id=2, org=b_org),
        TnUser(name="b3", age=14, tenant_id=2, org=a_org),  # other tenant's org
        TnUser(name="a3", age=15, tenant_id=1, org=b_org),
        TnNote(body="a-note", tenant_id="1"),
        TnNote(body="b-note", tenant_id="2"),
    ]
    with all_tenants():
        db.seed(plan, a_org, b_org, *rows)
    return {row.name: row.id for row in rows if isinstance(row, TnUser)} | {
        "a-org": a_org.id,
        "b-org": b_org.id,
    }


async def scalars(db: Any, stmt: Any) -> list[Any]:
    if db.async_session is None:
        return list(db.session.exec(stmt).unique().all())
    return list((await db.async_session.exec(stmt)).unique().all())


async def session_get(db: Any, model: Any, key: Any) -> Any:
    if db.async_session is None:
        return db.session.get(model, key)
    return await db.async_session.get(model, key)


def names(rows: Any) -> list[str]:
    return sorted(getattr(row, "name", None) or row.body for row in rows)


# each read path: (name, reader(db, ids) -> names of tenant rows it returned)
Reader = Callable[[Any, dict[str, Any]], Awaitable[list[str]]]
PATHS: list[tuple[str, Reader]] = []


def path(name: str) -> Callable[[Reader], Reader]:
    def register(reader: Reader) -> Reader:
        PATHS.append((name, reader))
        return reader

    return register


@path("Q.all")
async def _all(db: Any, ids: Any) -> list[str]:
    return names(await db.run(Q(TnUser), "all"))


@path("Q.first / one_or_none of another tenant's name")
async def _first(db: Any, ids: Any) -> list[str]:
    found = [await db.run(Q(TnUser).where(name=n), "one_or_none") for n in ids if "org" not in n]
    return names(row for row in found if row is not None)


@path("Q.get of every key")
async def _get(db: Any, ids: Any) -> list[str]:
    found = [await db.run(Q(TnUser), "get", key) for n, key in ids.items() if "org" not in n]
    return names(row for row in found if row is not None)


@path("Q.paginate")
async def _paginate(db: Any, ids: Any) -> list[str]:
    page = await db.run(Q(TnUser).order_by("name"), "paginate", 1, 50)
    assert page.total == len(page.items)
    return names(page.items)


@path("Q.keyset, both directions")
async def _keyset(db: Any, ids: Any) -> list[str]:
    first = await db.run(Q(TnUser).order_by("age"), "keyset", 2)
    second = await db.run(Q(TnUser).order_by("age"), "keyset", 2, first.next_cursor)
    back = await db.run(Q(TnUser).order_by("age"), "keyset", 2, before=second.next_cursor)
    return names([*first.items, *second.items, *back.items])


@path("Q.count / exists")
async def _count(db: Any, ids: Any) -> list[str]:
    own = names(await db.run(Q(TnUser), "all"))
    assert await db.run(Q(TnUser), "count") == len(own)
    others = [n for n in ids if "org" not in n and n not in own]
    assert not await db.run(Q(TnUser).where(name__in=others), "exists")
    return own


@path("Q.values / values_list")
async def _values(db: Any, ids: Any) -> list[str]:
    rows = await db.run(Q(TnUser), "values", "name", "org__name")
    flat = await db.run(Q(TnUser), "values_list", "name", flat=True)
    orgs = [row["org__name"] for row in rows if row["org__name"] is not None]
    return sorted([row["name"] for row in rows] + flat + orgs)


@path("Q.aggregate, grouped")
async def _aggregate(db: Any, ids: Any) -> list[str]:
    total = await db.run(Q(TnUser), "aggregate", n=Count())
    groups = await db.run(Q(TnUser).group_by("org__name"), "aggregate", n=Count())
    assert total["n"] == sum(group["n"] for group in groups)
    return sorted(group["org__name"] for group in groups if group["org__name"])


@path("Q.annotate counts related rows of the tenant only")
async def _annotate(db: Any, ids: Any) -> list[str]:
    rows = await db.run(Q(TnOrg).annotate(n=Count("users")), "values", "name", "n")
    for row in rows:
        assert row["n"] == 2, row  # its own two users, not the other tenant's
    return sorted(row["name"] for row in rows)


@path("relationship filter from a tenant model")
async def _related(db: Any, ids: Any) -> list[str]:
    found = await db.run(
        Q(TnOrg).where(users__name__in=["a1", "a2", "b1", "b2", "b3", "a3"]), "all"
    )
    return names(found)


@path("relationship filter from a model without tenants")
async def _plan(db: Any, ids: Any) -> list[str]:
    for name in ("a-org", "b-org"):
        plans = await db.run(Q(TnPlan).where(orgs__name=name), "all")
        if plans and name[0] != db.tenant_prefix:
            return [name]  # a leak: the other tenant's org matched
    return []


@path("include(selectin / joined / subquery)")
async def _include(db: Any, ids: Any) -> list[str]:
    seen: list[Any] = []
    for strategy in ("selectin", "joined", "subquery"):
        orgs = await db.run(Q(TnOrg).include("users", strategy=strategy), "all")
        seen += orgs + [user for org in orgs for user in org.users]
    plans = await db.run(Q(TnPlan).include("orgs"), "all")
    seen += [org for plan in plans for org in plan.orgs]
    return names(seen)


@path("legacy get_rows / get_row / get_rows_within_id_list")
async def _legacy(db: Any, ids: Any) -> list[str]:
    keys = [key for n, key in ids.items() if "org" not in n]
    if db.async_session is None:
        ok, rows = get_rows(db.session, TnUser)
        found = [get_row(key, db.session, TnUser)[1] for key in keys]
        listed = get_rows_within_id_list(keys, db.session, TnUser)[1]
    else:
        ok, rows = await a_get_rows(db.async_session, TnUser)
        found = [(await a_get_row(key, db.async_session, TnUser))[1] for key in keys]
        listed = (await a_get_rows_within_id_list(keys, db.async_session, TnUser))[1]
    assert ok
    return names([*rows, *(row for row in found if row), *listed])


@path("session.get, plain select(), joins, joinedload")
async def _plain(db: Any, ids: Any) -> list[str]:
    got = [await session_get(db, TnUser, key) for n, key in ids.items() if "org" not in n]
    seen = [row for row in got if row is not None]
    seen += await scalars(db, select(TnUser))
    seen += await scalars(
        db, select(TnUser).join(TnUser.org).where(TnOrg.name.in_(["a-org", "b-org"]))
    )
    orgs = await scalars(db, select(TnOrg).options(joinedload(TnOrg.users)))
    seen += orgs + [user for org in orgs for user in org.users]
    counted = await scalars(db, select(func.count()).select_from(TnUser))
    assert counted == [len(await scalars(db, select(TnUser)))]
    return names(seen)


@path("lazy loads (sync)")
async def _lazy(db: Any, ids: Any) -> list[str]:
    if db.async_session is not None:
        return []  # async sessions cannot lazy-load
    seen: list[Any] = []
    for org in db.session.scalars(select(TnOrg)).all():
        seen += org.users
    for user in db.session.scalars(select(TnUser)).all():
        if user.org is not None:
            seen.append(user.org)
    for plan in db.session.scalars(select(TnPlan)).all():
        seen += plan.orgs
    return names(seen)


@path("Q.stream (sync)")
async def _stream(db: Any, ids: Any) -> list[str]:
    if db.async_session is not None:
        return names(await db.run(Q(TnUser), "all"))
    return names(Q(TnUser).stream(db.session, batch_size=2))


@path("a str tenant id")
async def _notes(db: Any, ids: Any) -> list[str]:
    return names(await db.run(Q(TnNote), "all"))


@path("Q.update / Q.delete leave other tenants' rows alone")
async def _writes(db: Any, ids: Any) -> list[str]:
    changed = await db.run(Q(TnUser), "update", age=99)
    await db.commit()
    with all_tenants():
        everyone = await db.run(Q(TnUser).order_by("name"), "values_list", "name", "age")
    touched = [name for name, age in everyone if age == 99]
    assert changed == len(touched)
    await db.run(Q(TnNote), "delete")
    await db.commit()
    with all_tenants():
        left = await db.run(Q(TnNote), "values_list", "body", flat=True)
    return sorted(touched) + [body for body in ("a-note", "b-note") if body not in left]


@pytest.mark.parametrize(("label", "reader"), PATHS, ids=[label for label, _ in PATHS])
@pytest.mark.parametrize("tenant", [1, 2])
async def test_no_read_path_leaks_another_tenants_rows(
    db: Any, label: str, reader: Reader, tenant: int
) -> None:
    ids = seed(db)
    db.tenant_prefix = PREFIX[tenant]
    with tenant_scope(str(tenant) if label == "a str tenant id" else tenant):
        seen = await reader(db, ids)
    leaked = [name for name in seen if name[0] != PREFIX[tenant]]
    assert leaked == [], f"{label}: tenant {tenant} saw {leaked}"
    assert seen or label.startswith(("lazy", "relationship filter from a model")), label


def test_the_matrix_covers_the_read_paths() -> None:
    assert len(PATHS) == 18


# ------------------------------------------------------------ fail closed


async def test_every_read_without_a_tenant_is_refused(db: Any) -> None:
    ids = seed(db)
    reads = [
        lambda: db.run(Q(TnUser), "all"),
        lambda: db.run(Q(TnUser), "count"),
        lambda: db.run(Q(TnUser), "get", ids["a1"]),
        lambda: db.run(Q(TnUser), "values", "name"),
        lambda: db.run(Q(TnUser), "aggregate", n=Count()),
        lambda: db.run(Q(TnUser).order_by("age"), "keyset", 2),
        lambda: db.run(Q(TnUser), "paginate", 1, 2),
        lambda: db.run(Q(TnOrg).where(users__name="a1"), "all"),
        lambda: db.run(Q(TnPlan).where(orgs__name="a-org"), "all"),
        lambda: scalars(db, select(TnUser)),
        lambda: session_get(db, TnUser, ids["a1"]),
    ]
    for read in reads:
        with pytest.raises(TenantError, match="no tenant is set"):
            await read()
        if db.async_session is None:
            db.session.rollback()
        else:
            await db.async_session.rollback()
    if db.async_session is None:
        with pytest.raises(TenantError):
            get_rows(db.session, TnUser)
    else:
        with pytest.raises(TenantError):
            await a_get_rows(db.async_session, TnUser)
    with tenant_scope(1):  # the session is still usable
        assert names(await db.run(Q(TnUser), "all")) == ["a1", "a2", "a3"]


def counts(engine: Any) -> dict[int, int]:
    with Session(engine) as session, all_tenants():
        rows = session.exec(select(TnUser.tenant_id, func.count()).group_by(TnUser.tenant_id))
        return dict(rows.all())


WRITES: list[tuple[str, Callable[[Session, dict[str, Any]], Any]]] = [
    ("write_row", lambda s, ids: write_row(TnUser(name="x", tenant_id=2), s)),
    ("session.add", lambda s, ids: (s.add(TnUser(name="x", tenant_id=2)), s.flush())),
    ("insert_data_rows", lambda s, ids: insert_data_rows([TnUser(name="x", tenant_id=2)], s)),
    ("Q.update moving rows", lambda s, ids: Q(TnUser).update(s, tenant_id=2)),
    (
        "bulk_upsert_mappings of another tenant",
        lambda s, ids: bulk_upsert_mappings([{"name": "x", "tenant_id": 2}], s, TnUser),
    ),
    (
        "bulk_upsert_mappings on another tenant's key",
        lambda s, ids: bulk_upsert_mappings([{"id": ids["b1"], "name": "stolen"}], s, TnUser),
    ),
    ("flush of a moved row", lambda s, ids: (_move(s, ids), s.flush())),
]


def _move(session: Session, ids: dict[str, Any]) -> None:
    user = session.get(TnUser, ids["a1"])
    assert user is not None
    user.tenant_id = 2


@pytest.mark.parametrize(("label", "write"), WRITES, ids=[label for label, _ in WRITES])
def test_cross_tenant_writes_are_refused_with_nothing_written(
    db: Any, label: str, write: Any
) -> None:
    if db.mode == "async":
        pytest.skip("the async twins run the same code through run_sync")
    ids = seed(db)
    before = counts(db.backend.engine)
    with tenant_scope(1), pytest.raises(TenantError):
        write(db.session, ids)
    db.session.rollback()
    assert counts(db.backend.engine) == before
    with all_tenants():
        assert Q(TnUser).get(db.session, ids["b1"]).name == "b1"


def test_writes_without_a_tenant_are_refused(db: Any) -> None:
    if db.mode == "async":
        pytest.skip("the async twins run the same code through run_sync")
    seed(db)
    before = counts(db.backend.engine)
    for write in (
        lambda: write_row(TnUser(name="x"), db.session),
        lambda: bulk_upsert_mappings([{"name": "x"}], db.session, TnUser),
        lambda: Q(TnUser).update(db.session, age=1),
        lambda: Q(TnUser).delete(db.session),
    ):
        with pytest.raises(TenantError):
            write()
        db.session.rollback()
    with all_tenants(), pytest.raises(TenantError, match="needs its tenant_id"):
        write_row(TnUser(name="x"), db.session)
    db.session.rollback()
    assert counts(db.backend.engine) == before


def test_new_rows_are_stamped_with_the_tenant(db: Any) -> None:
    if db.mode == "async":
        pytest.skip("sync only: stamping happens in the flush both share")
    seed(db)
    with tenant_scope(2):
        write_row(TnUser(name="b9"), db.session)
        ok, (row,) = bulk_upsert_mappings([{"id": 1000, "name": "b10"}], db.session, TnUser)
        assert ok
        db.session.commit()
        assert row.tenant_id == 2
        assert sorted(
            Q(TnUser).where(name__in=["b9", "b10"]).values_list(db.session, "tenant_id", flat=True)
        ) == [2, 2]


# ------------------------------------------------------------ concurrency


def test_threads_each_see_their_own_tenant(backend: Any) -> None:
    backend.clean()
    errors: list[BaseException] = []
    # SQLite locks the whole file: there each round takes its turn
    turn = threading.Lock() if backend.name == "sqlite" else contextlib.nullcontext()

    def work(tenant: int) -> None:
        try:
            with tenant_scope(tenant), Session(backend.engine) as session:
                for index in range(3):
                    with turn:
                        session.add(TnUser(name=f"t{tenant}-{index}"))
                        session.commit()
                        seen = Q(TnUser).values_list(session, "name", "tenant_id")
                        session.commit()
                    assert {t for _, t in seen} == {tenant}, seen
                    assert len(seen) == index + 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(tenant,)) for tenant in range(1, 17)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts(backend.engine) == {tenant: 3 for tenant in range(1, 17)}


async def test_asyncio_tasks_each_see_their_own_tenant(backend: Any) -> None:
    backend.clean()
    engine = backend.async_engine(poolclass=NullPool)

    async def work(tenant: int) -> list[Any]:
        with tenant_scope(tenant):
            async with AsyncSession(engine) as session:
                for index in range(3):
                    session.add(TnUser(name=f"t{tenant}-{index}"))
                    await session.commit()
                    await asyncio.sleep(0)
                return await Q(TnUser).a_values_list(session, "tenant_id", flat=True)

    try:
        results = await asyncio.gather(*(work(tenant) for tenant in range(1, 17)))
    finally:
        await engine.dispose()
    assert results == [[tenant] * 3 for tenant in range(1, 17)]


# ------------------------------------------------------------ review findings


async def test_cached_reads_are_keyed_by_tenant_and_fail_closed(db: Any) -> None:
    seed(db)
    configure_cache(InMemoryCache(default_ttl=60))
    try:
        for tenant in (1, 2, 1):
            with tenant_scope(tenant):
                cached = await db.run(Q(TnUser).cached(), "all")
                assert {row.tenant_id for row in cached} == {tenant}
        with pytest.raises(TenantError):
            await db.run(Q(TnUser).cached(), "all")
        if db.async_session is None:
            with tenant_scope(2):
                ok, rows = get_rows(db.session, TnUser, use_cache=True)
            assert ok
            assert {row.tenant_id for row in rows} == {2}
    finally:
        configure_cache(None)


async def test_session_get_never_answers_from_another_tenants_identity_map(db: Any) -> None:
    ids = seed(db)
    with tenant_scope(2):
        assert (await session_get(db, TnUser, ids["b1"])) is not None
    with tenant_scope(1):
        assert (await session_get(db, TnUser, ids["b1"])) is None
        assert (await session_get(db, TnUser, ids["a1"])) is not None
    with all_tenants():
        assert len(await db.run(Q(TnUser), "all")) == 6
    with tenant_scope(1):
        assert (await session_get(db, TnUser, ids["b2"])) is None
    with pytest.raises(TenantError):
        await session_get(db, TnUser, ids["a1"])


def test_an_upsert_on_any_unique_key_of_another_tenant_is_refused(db: Any) -> None:
    if db.mode == "async":
        pytest.skip("the async twin runs the same code through run_sync")
    ids = seed(db)
    with tenant_scope(1), pytest.raises(TenantError):
        bulk_upsert_mappings(
            [{"id": ids["b1"], "name": "zzz"}], db.session, TnUser, pk_fields=["name"]
        )
    db.session.rollback()
    with all_tenants():
        assert Q(TnUser).get(db.session, ids["b1"]).tenant_id == 2


async def test_statements_reaching_tenants_of_another_mixin_are_scoped(db: Any) -> None:
    seed(db)
    notes = exists(select(TnNote.id).where(TnNote.body == "b-note"))
    with tenant_scope("1"):
        assert await db.run(Q(TnPlan).where(notes), "all") == []
    with tenant_scope("2"):
        assert [p.name for p in await db.run(Q(TnPlan).where(notes), "all")] == ["shared"]
    with pytest.raises(TenantError):
        await db.run(Q(TnPlan).where(notes), "all")
