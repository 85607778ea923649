"""The result cache on every backend, sync and async, with the in-memory
backend and a real Redis: hits and misses, invalidation by every write path
(after the commit), the key (scope, user, database), freshness under
concurrency, and a Redis that goes away."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from sqlmodel_crud_utils import (
    CacheWarning,
    InMemoryCache,
    Q,
    QueryBuilder,
    RedisCache,
    acting_as,
    configure_cache,
    invalidate_cache,
)
from sqlmodel_crud_utils.cache import get_cache
from tests.legacy_helpers import S, legacy
from tests.models import Hero, HeroKind, Team
from tests.models_softaudit import SaBook

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_cache(url: str = REDIS_URL, **kwargs) -> RedisCache:
    return RedisCache(url, prefix=f"scu-test-{uuid.uuid4().hex[:12]}", **kwargs)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "memory":
        backend = InMemoryCache(default_ttl=60)
    else:
        backend = redis_cache()
        try:
            backend.client.ping()
        except Exception as exc:  # the suite requires a reachable Redis
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
    configure_cache(backend)
    yield backend
    configure_cache(None)
    if request.param == "redis":
        backend.clear()


def count_selects(seen: list[str]) -> int:
    return sum(statement.lstrip().upper().startswith("SELECT") for statement in seen)


def heroes(db, count=3):
    return db.seed(
        *(Hero(name=f"h{i}", age=i, kind=HeroKind.mutant, alarm=None) for i in range(1, count + 1))
    )


def session_of(db):
    return db.session if db.async_session is None else db.async_session


async def fresh(db):
    """End the session's transaction, as a request handler would between reads."""
    await db.commit()


# ----------------------------------------------------------------- hits, misses


async def test_a_second_read_is_a_hit_and_sends_no_select(db, cache):
    (hero, *_) = heroes(db)
    with db.count_statements() as seen:
        first = await legacy(db, "get_row", hero.id, S, Hero, use_cache=True)
        await fresh(db)
        second = await legacy(db, "get_row", hero.id, S, Hero, use_cache=True)
    assert count_selects(seen) == 1
    assert (cache.stats.misses, cache.stats.hits, cache.stats.stores) == (1, 1, 1)
    with Session(db.backend.engine) as reader:
        assert second[1].model_dump() == reader.get(Hero, hero.id).model_dump()
    assert first[0] is True
    assert second[1].kind is HeroKind.mutant
    assert second[1] not in session_of(db)  # a hit is a detached instance


async def test_every_column_type_survives_the_round_trip(db, cache):
    import datetime as dt

    values = {
        "name": "typed",
        "age": 7,
        "rating": 2.5,
        "is_active": False,
        "born": dt.date(2000, 1, 2),
        "seen_at": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc),
        "alarm": dt.time(6, 30),
        "uid": uuid.UUID(int=7),
        "kind": HeroKind.alien,
    }
    (hero,) = db.seed(Hero(**values))
    q = Q(Hero).where(id=hero.id).cached()
    (miss,) = await db.run(q, "all")
    expected = miss.model_dump()
    await fresh(db)
    (hit,) = await db.run(q, "all")
    assert cache.stats.hits == 1
    assert hit.model_dump() == expected


async def test_counts_and_exists_are_cached_by_kind(db, cache):
    heroes(db)
    q = Q(Hero).where(age__gte=2).cached()
    assert await db.run(q, "count") == 2
    await fresh(db)
    assert await db.run(q, "exists") is True
    await fresh(db)
    with db.count_statements() as seen:
        assert await db.run(q, "count") == 2
        assert await db.run(q, "exists") is True
        assert len(await db.run(q, "all")) == 2  # rows: another entry, a miss
    assert count_selects(seen) == 1
    assert cache.stats.hits == 2


async def test_empty_answers_are_not_stored(db, cache):
    q = Q(Hero).where(name="nobody").cached()
    assert await db.run(q, "all") == []
    assert await db.run(q, "count") == 0
    assert cache.stats.stores == 0


async def test_values_and_paging_are_part_of_the_key(db, cache):
    heroes(db, 4)
    assert [
        h.age for h in (await legacy(db, "get_rows", S, Hero, age__gte=3, use_cache=True))[1]
    ] == [3, 4]
    assert [
        h.age for h in (await legacy(db, "get_rows", S, Hero, age__gte=2, use_cache=True))[1]
    ] == [2, 3, 4]
    page = await legacy(db, "get_rows", S, Hero, page_size=1, page=2, use_cache=True)
    assert [h.age for h in page[1]] == [2]
    assert cache.stats.hits == 0


async def test_soft_scope_and_user_are_part_of_the_key(db, cache):
    db.seed(SaBook(title="live"), SaBook(title="gone", is_deleted=True))
    live = await db.run(Q(SaBook).cached(), "all")
    every = await db.run(Q(SaBook).soft("include").cached(), "all")
    assert [b.title for b in live] == ["live"]
    assert sorted(b.title for b in every) == ["gone", "live"]
    with acting_as("ada"):
        await db.run(Q(SaBook).cached(), "all")
    assert cache.stats.hits == 0
    assert cache.stats.misses == 3


async def test_uncacheable_queries_read_the_database_every_time(db, cache):
    heroes(db)
    for q in (
        Q(Hero).where(text("age > 1")).cached(),
        Q(Hero).include("team").cached(),
        Q(Hero).only("name").cached(),
    ):
        await db.run(q, "all")
        await db.run(q, "all")
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stores) == (0, 0, 0)


async def test_raw_clauses_over_the_models_own_table_are_cached(db, cache):
    first, *_ = heroes(db, 3)
    older = Q(Hero).where(Hero.age >= 2).cached()
    assert await db.run(older, "count") == 2
    await fresh(db)
    assert await db.run(older, "count") == 2
    assert cache.stats.hits == 1
    other = Q(Hero).where(Hero.age >= 3).cached()  # another value: another key
    assert await db.run(other, "count") == 1
    across = Q(Hero).where(Hero.team_id.in_(select(Team.id))).cached()  # reads team
    await db.run(across, "count")
    await db.run(across, "count")
    assert cache.stats.hits == 1
    await legacy(db, "update_row", first.id, {"age": 9}, S, Hero)
    assert await db.run(older, "count") == Q(Hero).where(age__gte=2).count(
        Session(db.backend.engine)
    )


def test_statement_key_tells_what_is_cacheable(session):
    from sqlmodel_crud_utils.cache import statement_key

    same = select(Hero).where(Hero.age > 1)
    assert statement_key(session, Hero, "rows", same) == statement_key(session, Hero, "rows", same)
    assert statement_key(session, Hero, "rows", same) != statement_key(session, Hero, "count", same)
    assert statement_key(session, Hero, "rows", select(Hero).where(text("age > 1"))) is None
    assert statement_key(session, Hero, "rows", select(Hero).join(Team)) is None


async def test_without_a_backend_cached_reads_go_to_the_database(db):
    configure_cache(None)
    heroes(db, 1)
    with db.count_statements() as seen:
        await db.run(Q(Hero).cached(), "all")
        await db.run(Q(Hero).cached(), "all")
    assert count_selects(seen) == 2


async def test_ttl_expires_entries(db, cache):
    heroes(db, 1)
    q = Q(Hero).cached(ttl=0.05)
    await db.run(q, "all")
    await asyncio.sleep(0.15)
    await fresh(db)
    await db.run(q, "all")
    assert (cache.stats.hits, cache.stats.misses) == (0, 2)


def test_query_builder_cached_uses_the_same_cache(session, cache):
    session.add(Hero(name="qb", age=1))
    session.commit()
    assert QueryBuilder(session, Hero).cached(ttl=30).where(age=1).count() == (True, 1)
    session.commit()
    assert QueryBuilder(session, Hero).cached(ttl=30).where(age=1).count() == (True, 1)
    assert cache.stats.hits == 1


# ------------------------------------------------------------------ invalidation


def _write_paths():
    return {
        "write_row": lambda db, h: legacy(db, "write_row", Hero(name="new", age=1), S),
        "insert_data_rows": lambda db, h: legacy(
            db, "insert_data_rows", [Hero(name="n", age=1)], S
        ),
        "update_row": lambda db, h: legacy(db, "update_row", h.id, {"age": 1}, S, Hero),
        "delete_row": lambda db, h: legacy(db, "delete_row", h.id, S, Hero),
        "get_one_or_create": lambda db, h: legacy(
            db, "get_one_or_create", S, Hero, name="fresh", age=1
        ),
        "bulk_upsert_mappings": lambda db, h: legacy(
            db, "bulk_upsert_mappings", [{"id": h.id, "name": "up", "age": 1}], S, Hero
        ),
        "bulk_update_rows": lambda db, h: legacy(
            db, "bulk_update_rows", [h.id], {"age": 1}, S, Hero
        ),
        "delete_rows_within_id_list": lambda db, h: legacy(
            db, "delete_rows_within_id_list", [h.id], S, Hero
        ),
        "Q.update": lambda db, h: db.run(Q(Hero).where(id=h.id), "update", age=1),
        "Q.delete": lambda db, h: db.run(Q(Hero).where(id=h.id), "delete"),
    }


@pytest.mark.parametrize("path", sorted(_write_paths()))
async def test_every_write_path_invalidates_after_its_commit(db, cache, path):
    (hero,) = db.seed(Hero(name="h", age=5))
    q = Q(Hero).where(age=1).cached()
    other = Q(Hero).where(age=5).cached()
    assert await db.run(q, "count") == 0
    before = await db.run(other, "count")
    await fresh(db)
    await _write_paths()[path](db, hero)
    await db.commit()
    expected = Q(Hero).where(age=1).count(Session(db.backend.engine))
    assert await db.run(q, "count") == expected
    assert await db.run(other, "count") == Q(Hero).where(age=5).count(Session(db.backend.engine))
    assert before == 1
    assert cache.stats.invalidations >= 1


async def test_an_orm_flush_invalidates(db, cache):
    (hero,) = db.seed(Hero(name="h", age=5))
    q = Q(Hero).where(id=hero.id).cached()
    assert (await db.run(q, "all"))[0].age == 5
    await fresh(db)
    session = session_of(db)
    row = await session.get(Hero, hero.id) if db.async_session else session.get(Hero, hero.id)
    row.age = 6
    await db.commit()
    assert (await db.run(q, "all"))[0].age == 6


async def test_a_write_to_a_related_table_invalidates_relationship_filters(db, cache):
    (team,) = db.seed(Team(name="old"))
    db.seed(Hero(name="h", team_id=team.id))
    q = Q(Hero).where(team__name="old").cached()
    assert await db.run(q, "count") == 1
    await fresh(db)
    await legacy(db, "update_row", team.id, {"name": "new"}, S, Team)
    assert await db.run(q, "count") == 0


async def test_uncommitted_writes_neither_read_nor_fill_the_cache(db, cache):
    (hero,) = db.seed(Hero(name="h", age=5))
    q = Q(Hero).where(id=hero.id).cached()
    assert (await db.run(q, "all"))[0].age == 5  # stored
    await db.run(Q(Hero).where(id=hero.id), "update", age=9)
    assert (await db.run(q, "all"))[0].age == 9  # our own write, not the cached row
    hits, stores = cache.stats.hits, cache.stats.stores
    session = session_of(db)
    await session.rollback() if db.async_session else session.rollback()
    assert (await db.run(q, "all"))[0].age == 5
    assert (cache.stats.hits, cache.stats.stores) == (hits + 1, stores)


async def test_a_rolled_back_write_invalidates_nothing(db, cache):
    heroes(db, 1)
    q = Q(Hero).cached()
    await db.run(q, "all")
    await fresh(db)
    invalidations = cache.stats.invalidations
    await db.run(Q(Hero), "update", age=50)
    session = session_of(db)
    await session.rollback() if db.async_session else session.rollback()
    assert cache.stats.invalidations == invalidations
    await db.run(q, "all")
    assert cache.stats.hits == 1


def test_another_sessions_commit_invalidates_but_not_before(backend, cache):
    backend.clean()
    with Session(backend.engine) as seed:
        seed.add(Hero(name="h", age=1))
        seed.commit()
    q = Q(Hero).where(name="h").cached()
    with Session(backend.engine) as reader, Session(backend.engine) as writer:
        assert q.all(reader)[0].age == 1
        reader.commit()
        q.update(writer, age=2)  # not committed yet
        assert q.all(reader)[0].age == 1  # the committed row, from the cache
        reader.commit()
        writer.commit()
        assert q.all(reader)[0].age == 2


def test_invalidate_cache_by_model_and_everything(session, cache):
    session.add(Hero(name="h", age=1))
    session.commit()
    q = Q(Hero).cached()
    q.all(session)
    session.commit()
    invalidate_cache(Team)
    q.all(session)
    session.commit()
    assert cache.stats.hits == 1
    invalidate_cache(Hero)
    q.all(session)
    session.commit()
    invalidate_cache()
    q.all(session)
    assert cache.stats.hits == 1


def test_a_read_inside_a_snapshot_transaction_is_not_stored(backend, cache):
    backend.clean()
    with Session(backend.engine) as session:
        session.add(Hero(name="h", age=1))
        session.commit()
        session.execute(text("SELECT 1"))  # the transaction (and its snapshot) began
        Q(Hero).cached().all(session)
        # PostgreSQL reads per statement (READ COMMITTED); MariaDB's
        # REPEATABLE READ and SQLite's BEGIN (create_pooled_engine) keep the
        # transaction's first snapshot, which may predate a commit
        assert cache.stats.stores == (1 if backend.name == "postgresql" else 0)


def test_two_threads_never_see_a_row_older_than_the_last_commit(backend, cache):
    backend.clean()
    with Session(backend.engine) as seed:
        hero = Hero(name="race", age=0)
        seed.add(hero)
        seed.commit()
        hero_id = hero.id
    committed = [0]
    stale: list[tuple[int, int]] = []
    done = threading.Event()
    q = Q(Hero).where(id=hero_id).cached()

    def write() -> None:
        with Session(backend.engine) as writer:
            for value in range(1, 60):
                Q(Hero).where(id=hero_id).update(writer, age=value)
                writer.commit()
                committed[0] = value
        done.set()

    def read() -> None:
        with Session(backend.engine) as reader:
            while not done.is_set():
                floor = committed[0]
                seen = q.all(reader)[0].age
                reader.commit()
                if seen < floor:
                    stale.append((seen, floor))

    threads = [threading.Thread(target=read), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not stale
    assert cache.stats.misses + cache.stats.hits > 0  # the reader raced the writer
    with Session(backend.engine) as reader:
        assert q.all(reader)[0].age == 59
        reader.commit()
        hits = cache.stats.hits
        assert q.all(reader)[0].age == 59  # once the writes stop, served from the cache
        assert cache.stats.hits == hits + 1


# --------------------------------------------------------------- Redis failures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server this test starts, stops and restarts itself."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_redis_stopped_mid_run_degrades_to_correct_uncached_reads(backend, private_redis):
    backend.clean()
    cache = redis_cache(f"redis://127.0.0.1:{private_redis.port}/0")
    configure_cache(cache)
    try:
        with Session(backend.engine) as session:
            session.add(Hero(name="h", age=1))
            session.commit()
            q = Q(Hero).where(name="h").cached()
            assert q.all(session)[0].age == 1
            session.commit()
            assert q.all(session)[0].age == 1
            assert cache.stats.hits == 1
            private_redis.stop()
            q.update(session, age=2)
            with pytest.warns(CacheWarning):
                session.commit()  # the invalidation fails: kept for later
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheWarning)
                assert q.all(session)[0].age == 2
                session.commit()
            assert cache.stats.errors >= 1
            private_redis.start()  # empty again; the old entry would have been stale anyway
            assert q.all(session)[0].age == 2
            session.commit()
            assert q.all(session)[0].age == 2
            assert cache.stats.hits == 2
    finally:
        configure_cache(None)


def test_a_failed_invalidation_is_retried_before_the_next_cached_read(backend):
    """Redis keeps its data but cannot be reached for one invalidation: the
    next cached read first replays it, so the old entry is never served."""
    backend.clean()
    cache = InMemoryCache()
    configure_cache(cache)
    try:
        with Session(backend.engine) as session:
            session.add(Hero(name="h", age=1))
            session.commit()
            q = Q(Hero).where(name="h").cached()
            q.all(session)
            session.commit()
            failing = cache.new_generation
            cache.new_generation = lambda namespace: (_ for _ in ()).throw(ConnectionError("down"))
            q.update(session, age=2)
            with pytest.warns(CacheWarning):
                session.commit()
            cache.new_generation = failing
            assert q.all(session)[0].age == 2
    finally:
        configure_cache(None)


def test_a_closed_port_never_raises(session):
    session.add(Hero(name="h", age=1))
    session.commit()
    cache = RedisCache("redis://127.0.0.1:1/0", timeout=0.1)
    configure_cache(cache)
    try:
        with pytest.warns(CacheWarning):
            assert Q(Hero).cached().all(session)[0].age == 1
        assert cache.stats.errors >= 1
    finally:
        configure_cache(None)


# ------------------------------------------------------------------------ async


async def test_an_async_redis_client_serves_async_sessions(db):
    if db.async_session is None:
        pytest.skip("an async client serves async sessions")
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    cache = RedisCache(client=client, prefix=f"scu-test-{uuid.uuid4().hex[:12]}")
    heroes(db, 1)  # committed by a sync session: before the async-only cache
    configure_cache(cache)
    try:
        q = Q(Hero).cached()
        await db.run(q, "all")
        await db.commit()
        (hit,) = await db.run(q, "all")
        assert hit.name == "h1"
        assert cache.stats.hits == 1
        await legacy(db, "update_row", hit.id, {"age": 10}, S, Hero)
        assert (await db.run(q, "all"))[0].age == 10
        with pytest.warns(CacheWarning):  # a sync session cannot await it
            Q(Hero).cached().all(Session(db.backend.engine))
    finally:
        configure_cache(None)
        keys = await client.keys(f"{cache.prefix}:*")
        if keys:
            await client.delete(*keys)
        await client.aclose()


def test_configure_cache_none_turns_caching_off():
    configure_cache(InMemoryCache())
    configure_cache(None)
    assert get_cache() is None


# ------------------------------------------------------------ review findings


def test_a_miss_stores_the_database_row_not_the_sessions_older_copy(backend, cache):
    backend.clean()
    with Session(backend.engine, expire_on_commit=False) as seed:
        hero = Hero(name="h", age=30)
        seed.add(hero)
        seed.commit()
    with Session(backend.engine, expire_on_commit=False) as reader:
        reader.get(Hero, hero.id)  # the session now holds age 30
        reader.commit()
        with Session(backend.engine) as writer:  # before any cache is filled
            writer.execute(text("UPDATE hero SET age = 40"))
            writer.commit()
        assert Q(Hero).where(id=hero.id).cached().all(reader)[0].age == 40
    with Session(backend.engine) as other:
        assert Q(Hero).where(id=hero.id).cached().all(other)[0].age == 40


def test_a_joined_outer_transaction_invalidates_when_it_commits(backend, cache):
    backend.clean()
    with Session(backend.engine) as seed:
        seed.add(Hero(name="h", age=30))
        seed.commit()
    q = Q(Hero).where(name="h").cached()
    with Session(backend.engine) as reader:
        assert q.all(reader)[0].age == 30
    with backend.engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as joined:
            Q(Hero).where(name="h").update(joined, age=40)
            joined.commit()  # a savepoint: nothing is committed yet
        before = cache.stats.invalidations
        outer.commit()
    assert cache.stats.invalidations == before + 1
    with Session(backend.engine) as reader:
        assert q.all(reader)[0].age == 40


async def test_a_database_cascade_invalidates_the_child_table(db, cache):
    from tests.models_tracking import CachedFile, CachedFolder

    if db.name == "sqlite":
        pytest.skip("this SQLite engine does not enforce foreign keys")
    (folder,) = db.seed(CachedFolder(name="f"))
    db.seed(CachedFile(folder_id=folder.id))
    files = Q(CachedFile).cached()
    assert await db.run(files, "count") == 1
    await fresh(db)
    assert await legacy(db, "delete_row", folder.id, S, CachedFolder) is True
    assert await db.run(files, "count") == 0


async def test_json_values_are_copies(db, cache):
    from tests.models_tracking import CachedFile

    db.seed(CachedFile(meta={"plan": "free"}))
    q = Q(CachedFile).cached()
    (row,) = await db.run(q, "all")
    row.meta["plan"] = "enterprise"  # in place, never flushed
    await fresh(db)
    (hit,) = await db.run(q, "all")
    assert hit.meta == {"plan": "free"}
    hit.meta["plan"] = "x"
    assert (await db.run(q, "all"))[0].meta == {"plan": "free"}


async def test_models_with_eager_relationships_read_uncached(db, cache):
    from tests.models_tracking import EagerOwner, EagerPet

    (owner,) = db.seed(EagerOwner())
    db.seed(EagerPet(owner_id=owner.id))
    await db.run(Q(EagerOwner).cached(), "all")
    (again,) = await db.run(Q(EagerOwner).cached(), "all")
    assert len(again.pets) == 1
    assert cache.stats.stores == 0


def test_keys_name_the_schema_translation_and_the_absolute_sqlite_path(tmp_path, monkeypatch):
    from sqlalchemy import create_engine
    from sqlalchemy.sql import column
    from sqlalchemy.sql import table as light_table

    from sqlmodel_crud_utils.cache import statement_key

    monkeypatch.chdir(tmp_path)
    engine = create_engine("sqlite:///relative.db")
    stmt = select(Hero).where(Hero.age > 1)
    plain = statement_key(Session(engine), Hero, "rows", stmt)
    moved = engine.execution_options(schema_translate_map={None: "tenant_b"})
    assert statement_key(Session(moved), Hero, "rows", stmt) != plain
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    other = create_engine("sqlite:///relative.db")  # the same URL, another file
    assert statement_key(Session(other), Hero, "rows", stmt) != plain
    teams = light_table("team", column("id"))  # a lightweight table(): another table too
    across = select(Hero).where(Hero.team_id.in_(select(teams.c.id)))
    assert statement_key(Session(engine), Hero, "rows", across) is None
    engine.dispose()
    other.dispose()


def test_tokens_survive_eviction_and_clear_draws_new_ones():
    cache = InMemoryCache(max_entries=1)
    token = cache.generation("hero")
    cache.set("hero", "a", 1)
    cache.set("hero", "b", 2)  # evicts "a"
    assert cache.generation("hero") == token
    cache.clear()
    assert cache.generation("hero") not in ("", token)


def test_an_enum_without_a_known_class_is_not_stored():
    import enum

    from sqlmodel_crud_utils._cached import _encode_value, _Unencodable

    class Color(enum.Enum):
        RED = 1

    assert _encode_value(Color.RED, Color) == ["enum", "RED"]
    with pytest.raises(_Unencodable):
        _encode_value(Color.RED, None)


async def test_soft_delete_and_restore_invalidate(db, cache):
    (book,) = db.seed(SaBook(title="t"))
    live = Q(SaBook).cached()
    assert await db.run(live, "count") == 1
    await fresh(db)
    assert await legacy(db, "soft_delete_row", book.id, S, SaBook) is True
    assert await db.run(live, "count") == 0
    assert await legacy(db, "restore_row", book.id, S, SaBook) is True
    assert await db.run(live, "count") == 1
