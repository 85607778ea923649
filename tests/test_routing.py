"""Read replicas (`routed_sessionmaker`): where each statement runs.

Two SQLite files stand in for a primary and a replica on every run (each
holds different rows, so an answer shows which one served it); with
``postgresql-replica`` in ``TEST_DATABASES`` the same checks run on a real
streaming replica (scripts/scaleout_servers.sh), where each read is proven
to run on the server in recovery and replica lag is waited out on the
replay LSN."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, String, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import registry
from sqlalchemy.pool import NullPool
from sqlmodel import Field, SQLModel

from sqlmodel_crud_utils import (
    Q,
    a_transaction,
    a_update_row,
    a_write_row,
    create_async_pooled_engine,
    create_pooled_engine,
    get_row,
    transaction,
    update_row,
    write_row,
)
from sqlmodel_crud_utils.routing import (
    ReplicaWarning,
    async_routed_sessionmaker,
    on_primary,
    routed_sessionmaker,
)
from tests.conftest import requested_backends

#: a port nothing listens on: a replica that refuses connections
REFUSING = "postgresql+psycopg://postgres@127.0.0.1:1/test"


@dataclass
class Servers:
    """A primary and a replica, and which of them ran each statement."""

    name: str
    primary_url: str
    replica_url: str
    primary: Engine
    replica: Engine
    ran: list[str] = field(default_factory=list)

    def watch(self, engine: Engine, label: str) -> None:
        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                self.ran.append(label)

        event.listen(engine, "before_cursor_execute", record)

    def take(self) -> list[str]:
        taken, self.ran[:] = list(self.ran), []
        return taken

    def caught_up(self) -> None:
        """Wait until the replica has replayed every write of the primary
        (on SQLite, copy the primary's rows: there is no replication)."""
        if self.name == "sqlite":
            return
        with self.primary.connect() as conn:
            lsn = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar()
        deadline = time.monotonic() + 30
        with self.replica.connect() as conn:
            query = text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
            while not conn.execute(query, {"lsn": lsn}).scalar():
                assert time.monotonic() < deadline, f"the replica did not replay {lsn} in 30 s"
                conn.rollback()
                time.sleep(0.01)
        self.ran.clear()


def replica_urls() -> tuple[str, str]:
    primary = make_url(
        os.environ.get("TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1/test")
    )
    primary = primary.set(drivername="postgresql+psycopg", port=primary.port or 5432)
    replica = os.environ.get("TEST_POSTGRESQL_REPLICA_URL")
    replica_url = make_url(replica).set(drivername="postgresql+psycopg") if replica else None
    replica_url = replica_url or primary.set(port=5433)
    return (
        primary.render_as_string(hide_password=False),
        replica_url.render_as_string(hide_password=False),
    )


PAIRS = ["sqlite"] + (
    ["postgresql-replica"] if "postgresql-replica" in requested_backends() else []
)


class RoutingModel(SQLModel, registry=registry()):
    """Its own registry: these tables live apart from the suite's schema."""


class Dispatch(RoutingModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=100)
    copies: int = 0


@pytest.fixture(params=PAIRS)
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Servers]:
    if request.param == "sqlite":
        primary_url = f"sqlite:///{tmp_path / 'primary.db'}"
        replica_url = f"sqlite:///{tmp_path / 'replica.db'}"
    else:
        primary_url, replica_url = replica_urls()
    primary, replica = create_pooled_engine(primary_url), create_pooled_engine(replica_url)
    pair = Servers(request.param, primary_url, replica_url, primary, replica)
    try:
        with replica.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # asked for and not there: fail, never skip
        pytest.fail(f"the replica at {replica_url} is unreachable: {exc}")
    writable = [primary, replica] if pair.name == "sqlite" else [primary]
    for engine, label in zip(writable, ["on the primary", "on the replica"], strict=False):
        RoutingModel.metadata.drop_all(engine)
        RoutingModel.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(Dispatch.__table__.insert(), [{"text": label}])
    pair.caught_up()
    pair.watch(primary, "primary")
    pair.watch(replica, "replica")
    yield pair
    primary.dispose()
    replica.dispose()


def dispatches(rows: list[Dispatch]) -> list[str]:
    return sorted(row.text for row in rows)


def test_reads_go_to_a_replica(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica])
    with Session() as session:
        rows = Q(Dispatch).all(session)
        assert Q(Dispatch).count(session) == 1
        assert get_row(rows[0].id, session, Dispatch)[0]
        texts = Q(Dispatch).values_list(session, "text", flat=True)
        assert servers.take() == ["replica"] * 4
        assert texts == [rows[0].text]
        if servers.name == "sqlite":
            assert dispatches(rows) == ["on the replica"]
        else:  # the connection that answered is the server in recovery
            in_recovery = select(func.pg_is_in_recovery())
            assert session.execute(in_recovery).scalar() is True
            with on_primary(session):
                assert session.execute(in_recovery).scalar() is False


def test_writes_and_the_reads_after_them_go_to_the_primary(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica], sticky_seconds=3600)
    with Session() as session:
        Q(Dispatch).all(session)
        assert servers.take() == ["replica"]
        assert write_row(Dispatch(text="written"), session)[0]
        assert set(servers.take()) == {"primary"}
        # committed, but a replica may lag: the session stays on the primary
        assert Q(Dispatch).where(text="written").one(session).text == "written"
        assert update_row(1, {"copies": 2}, session, Dispatch)[0]
        assert Q(Dispatch).get(session, 1).copies == 2
        assert set(servers.take()) == {"primary"}
    with Session() as other:  # stickiness is per session
        Q(Dispatch).all(other)
        assert servers.take() == ["replica"]


def test_reads_go_back_to_a_replica_once_sticky_seconds_are_over(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica], sticky_seconds=0)
    with Session() as session:
        session.add(Dispatch(text="flushed"))
        session.flush()
        assert [d.text for d in Q(Dispatch).where(text="flushed").all(session)] == ["flushed"]
        assert set(servers.take()) == {"primary"}  # a read after a write, before the commit
        session.commit()
        servers.caught_up()
        rows = Q(Dispatch).where(text="flushed").all(session)
        assert servers.take() == ["replica"]
        assert len(rows) == (0 if servers.name == "sqlite" else 1)  # no replication on SQLite


def test_a_rolled_back_write_does_not_stick(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica], sticky_seconds=3600)
    with Session() as session:
        session.add(Dispatch(text="undone"))
        session.flush()
        session.rollback()
        servers.take()
        assert Q(Dispatch).where(text="undone").all(session) == []
        assert servers.take() == ["replica"]


def test_blocks_locks_and_primary_queries_go_to_the_primary(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica])
    with Session() as session:
        with transaction(session):
            Q(Dispatch).all(session)
            assert get_row(1, session, Dispatch)[0]
        assert set(servers.take()) == {"primary"}
        Q(Dispatch).all(session)  # the block wrote nothing: back to a replica
        assert servers.take() == ["replica"]
        session.rollback()
        if servers.name != "sqlite":  # SQLite has no FOR UPDATE (SQLAlchemy omits it)
            session.execute(select(Dispatch).with_for_update()).all()
            assert servers.take() == ["primary"]
            session.rollback()
        Q(Dispatch).for_update().all(session)  # a locking read, even where SQLite ignores it
        assert servers.take() == ["primary"]
        session.rollback()
        assert dispatches(Q(Dispatch).primary().all(session)) == ["on the primary"]
        assert Q(Dispatch).primary().count(session) == 1
        assert servers.take() == ["primary", "primary"]
        Q(Dispatch).count(session)
        session.execute(text("SELECT 1"))  # raw SQL may write: the primary
        Q(Dispatch).count(session)  # ... and the session now reads from it
        assert servers.take() == ["replica", "primary", "primary"]


def test_one_replica_per_transaction_in_turn(servers: Servers) -> None:
    second = create_pooled_engine(servers.replica_url)
    servers.watch(second, "second")
    Session = routed_sessionmaker(servers.primary, [servers.replica, second])
    with Session() as session:
        for _ in range(4):
            Q(Dispatch).all(session)
            Q(Dispatch).count(session)
            session.commit()
    assert servers.take() == ["replica", "replica", "second", "second"] * 2
    second.dispose()


def unreachable_replica(servers: Servers, tmp_path: Path) -> Engine:
    if servers.name == "sqlite":  # a file in a folder that does not exist
        return create_pooled_engine(f"sqlite:///{tmp_path / 'gone' / 'replica.db'}")
    return create_pooled_engine(REFUSING, connect_args={"connect_timeout": 2})


def test_an_unreachable_replica_is_skipped_with_a_warning(servers: Servers, tmp_path: Path) -> None:
    dead = unreachable_replica(servers, tmp_path)
    Session = routed_sessionmaker(servers.primary, [dead, servers.replica], retry_seconds=3600)
    with Session() as session, pytest.warns(ReplicaWarning, match="unreachable, skipped for"):
        assert len(Q(Dispatch).all(session)) == 1
    assert servers.take() == ["replica"]
    with Session() as session, warnings.catch_warnings():
        warnings.simplefilter("error", ReplicaWarning)
        for _ in range(3):  # the dead one is out of the rotation for retry_seconds
            Q(Dispatch).all(session)
            session.commit()
    assert servers.take() == ["replica"] * 3

    only_dead = routed_sessionmaker(servers.primary, [dead])
    with only_dead() as session, pytest.warns(ReplicaWarning):
        assert dispatches(Q(Dispatch).all(session)) == ["on the primary"]
    assert servers.take() == ["primary"]


def async_url(url: str) -> str:
    parsed = make_url(url)
    driver = "sqlite+aiosqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def test_async_sessions_route_the_same_way(servers: Servers) -> None:
    async def scenario() -> list[str]:
        primary = create_async_pooled_engine(async_url(servers.primary_url), poolclass=NullPool)
        replica = create_async_pooled_engine(async_url(servers.replica_url), poolclass=NullPool)
        servers.watch(primary.sync_engine, "primary")
        servers.watch(replica.sync_engine, "replica")
        Session = async_routed_sessionmaker(primary, [replica], sticky_seconds=3600)
        async with Session() as session:
            assert len(await Q(Dispatch).a_all(session)) == 1
            async with a_transaction(session):
                await Q(Dispatch).a_count(session)
            ok, row = await a_write_row(Dispatch(text="async"), session)
            assert ok
            await a_update_row(row.id, {"copies": 3}, session, Dispatch)
            assert (await Q(Dispatch).where(text="async").a_one(session)).copies == 3
        async with Session() as fresh:
            await Q(Dispatch).primary().a_count(fresh)
            await Q(Dispatch).a_count(fresh)
        await primary.dispose()
        await replica.dispose()
        return servers.take()

    ran = asyncio.run(scenario())
    writes = len(ran) - 4  # the reads: replica, block, primary(), replica
    assert ran[:2] == ["replica", "primary"]
    assert set(ran[2:-2]) == {"primary"}
    assert writes > 0
    assert ran[-2:] == ["primary", "replica"]


SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "scaleout_servers.sh"


def test_a_replica_that_stops_is_skipped_and_reads_are_still_answered(servers: Servers) -> None:
    """The real replica's server is stopped under a factory whose pool holds
    a connection to it: the next read is answered (by the primary), with a
    `ReplicaWarning`; the replica is resumed afterwards."""
    if servers.name == "sqlite":
        pytest.skip("needs a replica server to stop (postgresql-replica)")
    Session = routed_sessionmaker(servers.primary, [servers.replica], retry_seconds=3600)
    with Session() as session:
        assert len(Q(Dispatch).all(session)) == 1
    assert servers.take() == ["replica"]
    subprocess.run(["bash", str(SCRIPT), "pause-replica"], check=True, capture_output=True)
    try:
        with Session() as session, pytest.warns(ReplicaWarning, match="unreachable"):
            assert dispatches(Q(Dispatch).all(session)) == ["on the primary"]
        assert servers.take() == ["primary"]
    finally:
        subprocess.run(["bash", str(SCRIPT), "resume-replica"], check=True, capture_output=True)
    servers.replica.dispose()  # its pooled connections died with the server
    servers.caught_up()


def test_a_first_statement_write_and_a_released_savepoint_keep_the_primary(
    servers: Servers,
) -> None:
    """A write that opens the transaction (a set-based ``Q.update``, raw
    DML) makes the session read from the primary; releasing a SAVEPOINT
    does not end that."""
    Session = routed_sessionmaker(servers.primary, [servers.replica], sticky_seconds=0)
    with Session() as session:
        assert Q(Dispatch).where(id=1).update(session, copies=5) == 1
        assert Q(Dispatch).get(session, 1).copies == 5  # uncommitted: the primary has it
        with session.begin_nested():
            session.add(Dispatch(text="nested"))
        assert Q(Dispatch).where(text="nested").count(session) == 1
        session.execute(text("UPDATE dispatch SET copies = 6 WHERE id = 1"))
        assert Q(Dispatch).get(session, 1).copies == 6
        assert set(servers.take()) == {"primary"}
        session.rollback()
        Q(Dispatch).count(session)
        assert servers.take() == ["replica"]  # a new transaction that wrote nothing


def test_raw_sql_that_returns_columns_goes_to_the_primary(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica])
    with Session() as session:
        raw = text("SELECT text FROM dispatch").columns(text=String())
        assert session.execute(raw).scalars().all() == ["on the primary"]
        assert servers.take() == ["primary"]


def test_primary_queries_stream_from_the_primary(servers: Servers) -> None:
    Session = routed_sessionmaker(servers.primary, [servers.replica])
    with Session() as session:
        assert dispatches(list(Q(Dispatch).primary().stream(session))) == ["on the primary"]
        assert set(servers.take()) == {"primary"}
        list(Q(Dispatch).stream(session))
        assert set(servers.take()) == {"replica"}
