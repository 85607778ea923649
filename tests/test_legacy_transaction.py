"""Legacy writes inside transaction blocks only flush, so the block is atomic."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import TransactionError, a_transaction, transaction
from tests.legacy_helpers import S, legacy, stored
from tests.models_legacy import LegacyTag


class Boom(Exception):
    pass


async def _block(db):
    if db.async_session is None:
        return _SyncBlock(transaction(db.session))
    return a_transaction(db.async_session)


class _SyncBlock:
    def __init__(self, manager):
        self.manager = manager

    async def __aenter__(self):
        return self.manager.__enter__()

    async def __aexit__(self, *exc_info):
        return self.manager.__exit__(*exc_info)


async def test_a_failing_block_leaves_no_trace_of_legacy_writes(db):
    tag = db.seed(LegacyTag(name="a", note="before"))[0]

    async def writes_then_fails():
        async with await _block(db):
            await legacy(db, "write_row", LegacyTag(name="b"), S)
            await legacy(db, "insert_data_rows", [LegacyTag(name="c"), LegacyTag(name="d")], S)
            await legacy(db, "update_row", tag.id, {"note": "after"}, S, LegacyTag)
            await legacy(
                db, "bulk_upsert_mappings", [{"id": tag.id, "name": "a", "note": "u"}], S, LegacyTag
            )
            raise Boom

    with pytest.raises(TransactionError, match=r"^Transaction failed") as raised:
        await writes_then_fails()
    assert isinstance(raised.value.__cause__, Boom)
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [("a", "before")]


async def test_a_failed_write_inside_a_block_dooms_the_block(db):
    async def block():
        async with await _block(db):
            ok, _ = await legacy(db, "write_row", LegacyTag(name="a"), S)
            assert ok is True
            assert await legacy(db, "write_row", LegacyTag(name="a"), S) == (False, None)
            ok, _ = await legacy(db, "write_row", LegacyTag(name="b"), S)
            assert ok is True  # the session goes on ...

    with pytest.raises(TransactionError, match="failed earlier"):
        await block()
    assert stored(db, LegacyTag) == []  # ... but the block commits nothing
