"""A drop-in for upstream ``sqlmodel-crud-utilities`` 0.1 and 0.2 (issue 12).

Each behaviour that upstream's own suites check, here on real sessions and
real databases (every backend, sync and async): where upstream's tests drive
a ``MagicMock`` session whose ``commit`` raises, these make a real session's
commit fail with a ``before_commit`` listener, or the database refuse the
write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import MagicMock, patch

import pytest
from sqlalchemy import event, inspect
from sqlmodel import Session

from sqlmodel_crud_utils import AuditMixin, Q, SoftDeleteMixin, a_sync, sync
from sqlmodel_crud_utils.a_sync import RowList
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero
from tests.models_legacy import LegacyTag
from tests.models_softaudit import SaAuthor

UTC = dt.timezone.utc


def module(db: Any) -> Any:
    """The legacy module a v0.1 user of this mode imports."""
    return sync if db.async_session is None else a_sync


@contextmanager
def failing_commit(db: Any) -> Iterator[None]:
    """Every commit of the test's session raises, as upstream's mocked
    ``session.commit.side_effect = Exception(...)`` does."""
    session = db.session if db.async_session is None else db.async_session.sync_session

    def refuse(session: Session) -> None:
        raise RuntimeError("DB Error")

    event.listen(session, "before_commit", refuse)
    try:
        yield
    finally:
        event.remove(session, "before_commit", refuse)


@contextmanager
def logged(db: Any) -> Iterator[MagicMock]:
    """Patch ``sync.logger`` / ``a_sync.logger`` (by mode) as a whole, as a
    v0.1 user's test may; yields the stand-in logger."""
    with patch(f"{module(db).__name__}.logger") as log:
        yield log


# ------------------------------------------------------------------ names


def test_v02_names_import() -> None:
    from sqlmodel_crud_utils.exceptions import (
        DatabaseConnectionError,
        QueryExecutionError,
        SQLModelCRUDError,
        multiple_found,
        not_found,
        validation_error,
    )
    from sqlmodel_crud_utils.utils import get_sql_dialect_import, get_val, is_date, logger

    assert issubclass(DatabaseConnectionError, SQLModelCRUDError)
    assert issubclass(QueryExecutionError, SQLModelCRUDError)
    assert all(map(callable, (not_found, multiple_found, validation_error)))
    assert get_val("SURELY_NOT_SET_ANYWHERE_12") is None
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql), ("mysql", mysql)):
        assert get_sql_dialect_import(name) is dialect.insert
    assert [is_date(text) for text in ("2024-02-29", "2024-02-29T10:00:00+01:00")] == [True] * 2
    assert [is_date(text) for text in ("soon", "2023-02-29")] == [False] * 2
    assert sync.logger is a_sync.logger is logger is logging.getLogger("sqlmodel_crud_utils")


# ----------------------------------------------------- loggers and failures


async def test_write_row_whose_commit_fails(db: Any) -> None:
    with failing_commit(db), logged(db) as log:
        result = await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert result == (False, None)
    log.error.assert_called_once()
    assert stored(db, LegacyTag) == []
    assert (await legacy(db, "write_row", LegacyTag(name="b"), S))[0] is True  # usable


async def test_patching_the_logger_method_sees_the_failure(db: Any) -> None:
    db.seed(LegacyTag(name="taken"))
    with patch(f"{module(db).__name__}.logger.error") as error:
        assert await legacy(db, "write_row", LegacyTag(name="taken"), S) == (False, None)
    error.assert_called_once()


async def test_delete_row_whose_commit_fails(db: Any) -> None:
    tag = db.seed(LegacyTag(name="a"))[0]
    with failing_commit(db), logged(db) as log:
        assert await legacy(db, "delete_row", tag.id, S, LegacyTag) is False
    log.error.assert_called_once()
    assert [row.name for row in stored(db, LegacyTag)] == ["a"]


async def test_update_row_whose_commit_fails_returns_the_row_with_the_data(db: Any) -> None:
    tag = db.seed(LegacyTag(name="a", note="before"))[0]
    with failing_commit(db), logged(db) as log:
        ok, row = await legacy(db, "update_row", tag.id, {"note": "after"}, S, LegacyTag)
    assert ok is False
    assert (row.id, row.name, row.note) == (tag.id, "a", "after")  # v0.1: the data applied
    log.error.assert_called_once()
    assert [row.note for row in stored(db, LegacyTag)] == ["before"]
    # nothing unsaved stays in the session: the next commit writes nothing
    assert inspect(row).detached
    await db.commit()
    assert [row.note for row in stored(db, LegacyTag)] == ["before"]
    ok, again = await legacy(db, "update_row", tag.id, {"note": "retried"}, S, LegacyTag)
    assert (ok, again.note) == (True, "retried")


async def test_insert_data_rows_falls_back_row_by_row_and_logs_as_v01(db: Any) -> None:
    db.seed(LegacyTag(name="taken"))
    rows = [LegacyTag(name="RowSync1"), LegacyTag(name="taken")]
    with logged(db) as log:
        status, result = await legacy(db, "insert_data_rows", rows, S)
    assert status is True
    assert [row.name for row in result["success"]] == ["RowSync1"]
    assert result["failed"] == [rows[1]]
    assert log.error.call_count == 2  # the batch, then the row
    log.info.assert_called_once()  # "one by one instead"
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["RowSync1", "taken"]


async def test_insert_data_rows_with_no_row_written_returns_the_tuple_status(db: Any) -> None:
    db.seed(LegacyTag(name="x"), LegacyTag(name="y"))
    rows = [LegacyTag(name="x"), LegacyTag(name="y")]
    with logged(db) as log:
        status, result = await legacy(db, "insert_data_rows", rows, S)
    assert status == (False,)  # every upstream release
    assert result == {"success": [], "failed": rows}
    assert log.error.call_count == 3  # the batch, then each row
    log.info.assert_called_once()
    with failing_commit(db):  # a commit that fails writes no row either
        status, result = await legacy(db, "insert_data_rows", [LegacyTag(name="z")], S)
    assert status == (False,)
    assert [row.name for row in result["failed"]] == ["z"]
    assert sorted(row.name for row in stored(db, LegacyTag)) == ["x", "y"]


# ------------------------------------------------------------- get_rows


async def test_get_rows_like_is_v01s_wrapped_pattern(db: Any) -> None:
    db.seed(
        LegacyTag(name="SyncBasic-1"),
        LegacyTag(name="SyncBasic-2"),
        LegacyTag(name="SyncBasicX3"),
        LegacyTag(name="Other-1"),
    )

    async def names(**lookups: Any) -> list[str]:
        found, rows = await legacy(db, "get_rows", S, LegacyTag, sort_field="name", **lookups)
        assert found is bool(rows)
        return [row.name for row in rows]

    assert await names(name__like="SyncBasic-%") == ["SyncBasic-1", "SyncBasic-2"]  # % wild
    assert await names(name__like="Basic_") == ["SyncBasic-1", "SyncBasic-2", "SyncBasicX3"]
    assert await names(name__like="-1") == ["Other-1", "SyncBasic-1"]  # wrapped: %-1%
    assert await names(name__contains="Basic_") == []  # Q's contains: literal
    _, rows = await legacy(
        db, "get_rows", S, LegacyTag, page_size=1, page=2, sort_field="id", name__like="Basic-"
    )
    assert [row.name for row in rows] == ["SyncBasic-2"]


# ----------------------------------------------- get_rows_within_id_list


async def test_get_rows_within_id_list_success_flag_by_mode(db: Any) -> None:
    heroes = db.seed(Hero(name="A"), Hero(name="B"), Hero(name="C"))
    ids = [heroes[0].id, heroes[2].id]
    found, rows = await legacy(db, "get_rows_within_id_list", ids, S, Hero)
    assert found is True
    assert sorted(row.name for row in rows) == ["A", "C"]
    found, rows = await legacy(db, "get_rows_within_id_list", [-1, -2], S, Hero)
    if db.async_session is None:
        assert (found, rows) == (False, [])
    else:  # v0.1's async: the query ran; callers call .all() on the result
        assert found is True
        assert isinstance(rows, RowList)
        assert rows.all() == [] == rows
    found, rows = await legacy(db, "get_rows_within_id_list", ids, S, Hero)
    if db.async_session is not None:
        assert sorted(row.name for row in rows.all()) == ["A", "C"]


async def test_get_rows_within_id_list_failure_is_false_in_both_modes(db: Any) -> None:
    session = db.session if db.async_session is None else db.async_session.sync_session

    def refuse(state: Any) -> None:
        raise RuntimeError("DB Error")

    event.listen(session, "do_orm_execute", refuse)
    try:
        with logged(db) as log:
            found, rows = await legacy(db, "get_rows_within_id_list", [1], S, Hero)
    finally:
        event.remove(session, "do_orm_execute", refuse)
    assert (found, rows) == (False, [])
    log.error.assert_called_once()


# --------------------------------------------------------------- audit


def test_audit_columns_are_typed_as_what_they_hold() -> None:
    hints = AuditMixin.__annotations__
    assert hints["created_at"] in ("dt.datetime", dt.datetime)
    assert hints["updated_at"] in ("dt.datetime | None", dt.datetime | None)
    author = SaAuthor(name="new")
    assert author.created_at.tzinfo is UTC
    assert dt.datetime.now(UTC) - author.created_at < dt.timedelta(minutes=1)
    assert (author.updated_at, author.created_by, author.updated_by) == (None, None, None)


async def test_audit_schema_on_the_backend(db: Any) -> None:
    if db.async_session is not None:
        pytest.skip("one schema per backend")
    table = SaAuthor.__table__.name
    inspector = inspect(db.backend.engine)
    columns = {column["name"]: column for column in inspector.get_columns(table)}
    assert columns["created_at"]["nullable"] is False
    assert columns["updated_at"]["nullable"] is True
    assert columns["deleted_at"]["nullable"] is True
    for name in ("created_by", "updated_by", "deleted_by"):
        assert columns[name]["type"].length == 100
    indexed = {tuple(index["column_names"]) for index in inspector.get_indexes(table)}
    assert {("created_at",), ("deleted_at",), ("is_deleted",)} <= indexed
    assert issubclass(SaAuthor, (AuditMixin, SoftDeleteMixin))


async def test_updated_at_is_none_after_insert_and_set_by_every_update(db: Any) -> None:
    ok, author = await legacy(db, "write_row", SaAuthor(name="a"), S)
    assert (ok, author.updated_at) == (True, None)
    author_id, created_at = author.id, author.created_at
    (kept,) = stored(db, SaAuthor)
    assert (kept.updated_at, kept.created_at) == (None, created_at)
    stamps = []
    ok, _ = await legacy(db, "update_row", author_id, {"name": "b"}, S, SaAuthor)
    stamps.append(stored(db, SaAuthor)[0].updated_at)
    assert await db.run(Q(SaAuthor).where(id=author_id), "update", name="c") == 1
    await db.commit()
    stamps.append(stored(db, SaAuthor)[0].updated_at)
    ok, _ = await legacy(db, "bulk_upsert_mappings", [{"id": author_id, "name": "d"}], S, SaAuthor)
    stamps.append(stored(db, SaAuthor)[0].updated_at)
    assert all(stamp is not None and stamp.tzinfo is UTC for stamp in stamps)
    assert stamps == sorted(stamps)
    assert stamps[0] >= created_at


@pytest.mark.parametrize(
    ("dialect", "named"),
    [(None, "SQL_DIALECT"), ("  ", "SQL_DIALECT"), ("not-a-dialect", "not-a-dialect")],
)
def test_get_sql_dialect_import_refuses_missing_and_unknown_dialects(dialect, named):
    from sqlmodel_crud_utils import ValidationError
    from sqlmodel_crud_utils.utils import get_sql_dialect_import

    with pytest.raises(ValidationError, match=named) as caught:
        get_sql_dialect_import(dialect)
    assert isinstance(caught.value, ValueError)
