"""The soft-delete and audit session listeners: present only once a mixin
model is mapped, and relationships declared ``lazy="joined"`` are
relationship loads like any other (deleted rows stay out)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqlmodel_crud_utils import Q, with_deleted
from tests.models_joined import JdItem, JdNode, JdShelf


def seed(db: Any) -> int:
    shelf = JdShelf(name="s", items=[JdItem(title="kept"), JdItem(title="gone", is_deleted=True)])
    db.seed(shelf)
    assert shelf.id is not None
    return shelf.id


async def in_session(db: Any, fn: Any) -> Any:
    if db.async_session is None:
        return fn(db.session)
    return await db.async_session.run_sync(fn)


async def test_session_get_through_joined_relationship_hides_deleted(db: Any) -> None:
    shelf_id = seed(db)

    def titles(session: Session) -> set[str]:
        shelf = session.get(JdShelf, shelf_id)
        assert shelf is not None
        return {item.title for item in shelf.items}

    assert await in_session(db, titles) == {"kept"}


async def test_plain_select_through_joined_relationship_hides_deleted(db: Any) -> None:
    seed(db)

    def titles(session: Session) -> set[str]:
        shelf = session.scalars(select(JdShelf)).unique().one()
        return {item.title for item in shelf.items}

    assert await in_session(db, titles) == {"kept"}


async def test_a_model_joined_to_itself_keeps_its_rows_and_hides_deleted_children(
    db: Any,
) -> None:
    root = JdNode(name="root")
    db.seed(
        root,
        JdNode(name="kid", parent=root),
        JdNode(name="gone", parent=root, is_deleted=True),
    )

    def names(session: Session) -> tuple[list[str], list[str]]:
        rows = session.scalars(select(JdNode).order_by(JdNode.name)).unique().all()
        top = next(row for row in rows if row.name == "root")
        return [row.name for row in rows], sorted(child.name for child in top.children)

    # your statement keeps its own rows (deleted ones included); the joined
    # children are live-only
    assert await in_session(db, names) == (["gone", "kid", "root"], ["kid"])


async def test_with_deleted_shows_joined_deleted_rows(db: Any) -> None:
    seed(db)

    def titles(session: Session) -> set[str]:
        stmt = select(JdShelf).options(with_deleted())
        shelf = session.scalars(stmt).unique().one()
        return {item.title for item in shelf.items}

    assert await in_session(db, titles) == {"kept", "gone"}


async def test_q_terminals_through_joined_relationship(db: Any) -> None:
    shelf_id = seed(db)
    shelves = await db.run(Q(JdShelf), "all")
    assert [{item.title for item in shelf.items} for shelf in shelves] == [{"kept"}]
    got = await db.run(Q(JdShelf), "get", shelf_id)
    assert {item.title for item in got.items} == {"kept"}
    assert await db.run(Q(JdShelf), "count") == 1


def run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def test_no_session_listeners_until_a_mixin_model_is_mapped() -> None:
    out = run_python(
        """
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        from sqlmodel import Field, SQLModel, create_engine, select
        import sqlmodel_crud_utils
        from sqlmodel_crud_utils import _listeners, scopes

        class Plain(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)

        engine = create_engine("sqlite://")
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            session.add(Plain())
            session.commit()
            session.scalars(select(Plain)).all()

        def installed():
            return (
                event.contains(Session, "do_orm_execute", scopes._scope_relationship_loads),
                event.contains(Session, "before_flush", _listeners._stamp_before_flush),
            )

        before = installed()

        class Audited(SQLModel, sqlmodel_crud_utils.AuditMixin, table=True):
            id: int | None = Field(default=None, primary_key=True)

        Audited()
        audit_only = installed()

        class Soft(SQLModel, sqlmodel_crud_utils.SoftDeleteMixin, table=True):
            id: int | None = Field(default=None, primary_key=True)

        Soft()
        print(before, audit_only, installed())
        """
    )
    assert out == "(False, False) (False, True) (True, True)"


def test_the_execute_listener_decides_per_model_in_one_lookup() -> None:
    from sqlmodel_crud_utils.scopes import _scope_applies
    from tests.models import Hero, Team
    from tests.models_softaudit import SaAuthor

    # a plain model: every statement about it leaves the listener at once
    assert _scope_applies(Hero, "") is False
    assert _scope_applies(Team, "") is False
    # soft-delete rows of its own, or loaded through lazy="joined"
    assert _scope_applies(SaAuthor, "") is True
    assert _scope_applies(JdShelf, "") is True
    assert _scope_applies(JdItem, "") is True


def test_relationship_loads_stay_live_whatever_declares_the_relationship() -> None:
    """A fresh process (so no earlier model installed the listener): the
    only relationships to the soft-delete model are a backref it declares
    from its own registry, and one added to a configured mapper later."""
    out = run_python(
        """
        from sqlalchemy import Column, ForeignKey, Integer
        from sqlalchemy.orm import Session, configure_mappers, registry, relationship
        from sqlmodel import Field, Relationship, SQLModel, create_engine
        from sqlmodel_crud_utils import SoftDeleteMixin

        class Keeper(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)

        class Walker(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)

        own = registry()

        class OwnBase(SQLModel, registry=own):
            pass

        class Gem(OwnBase, SoftDeleteMixin, table=True):
            id: int | None = Field(default=None, primary_key=True)
            keeper_id: int = Field(sa_column=Column(Integer, ForeignKey(Keeper.__table__.c.id)))
            walker_id: int = Field(sa_column=Column(Integer, ForeignKey(Walker.__table__.c.id)))
            keeper: Keeper = Relationship(sa_relationship=relationship(Keeper, backref="gems"))

        configure_mappers()
        Walker.gems = relationship(Gem)  # after configuration

        engine = create_engine("sqlite://")
        SQLModel.metadata.create_all(engine)
        own.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all([Keeper(id=1), Walker(id=1)])
            session.flush()
            session.add(Gem(keeper_id=1, walker_id=1))
            session.add(Gem(keeper_id=1, walker_id=1, is_deleted=True))
            session.commit()
        with Session(engine) as session:
            kept = [g.is_deleted for g in session.get(Keeper, 1).gems]
            walked = [g.is_deleted for g in session.get(Walker, 1).gems]
        print(kept, walked)
        """
    )
    assert out == "[False] [False]"
