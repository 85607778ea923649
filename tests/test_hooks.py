"""Lifecycle hooks on the row-level writes, sync and async, on every backend."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import (
    Q,
    SoftDeleteMixin,
    clear_hooks,
    get_hooks,
    register_hook,
    unregister_hook,
)
from tests.legacy_helpers import S, legacy, stored
from tests.models_legacy import LegacyDoc, LegacyTag


@pytest.fixture(autouse=True)
def _no_hooks():
    clear_hooks()
    yield
    clear_hooks()


class Recorder:
    """Records every hook point it sees, with the row's state at that moment."""

    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    def before_create(self, instance):
        self.calls.append(("before_create", instance.id))

    def after_create(self, instance):
        self.calls.append(("after_create", instance.id))

    def before_update(self, instance, data):
        self.calls.append(("before_update", dict(data)))

    def after_update(self, instance):
        self.calls.append(("after_update", instance.id))

    def before_delete(self, instance):
        self.calls.append(("before_delete", instance.id))

    def after_delete(self, instance):
        self.calls.append(("after_delete", instance.id))

    def points(self):
        return [point for point, _ in self.calls]


class AsyncRecorder:
    def __init__(self):
        self.calls: list[str] = []

    async def before_create(self, instance):
        self.calls.append("before_create")

    async def before_update(self, instance, data):
        self.calls.append("before_update")
        return {**data, "note": "async"}

    async def after_delete(self, instance):
        self.calls.append("after_delete")


async def test_create_update_delete_fire_every_hook_point(db):
    hook = Recorder()
    register_hook(LegacyTag, hook)
    ok, tag = await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert ok
    assert hook.calls == [("before_create", None), ("after_create", tag.id)]
    hook.calls.clear()
    await legacy(db, "update_row", tag.id, {"note": "n"}, S, LegacyTag)
    assert hook.calls == [("before_update", {"note": "n"}), ("after_update", tag.id)]
    hook.calls.clear()
    assert await legacy(db, "delete_row", tag.id, S, LegacyTag) is True
    assert hook.points() == ["before_delete", "after_delete"]


async def test_insert_data_rows_and_get_one_or_create_fire_create_hooks(db):
    hook = Recorder()
    register_hook(LegacyTag, hook)
    await legacy(db, "insert_data_rows", [LegacyTag(name="a"), LegacyTag(name="b")], S)
    assert hook.points() == ["before_create"] * 2 + ["after_create"] * 2
    assert all(row_id is not None for point, row_id in hook.calls if point == "after_create")
    hook.calls.clear()
    await legacy(db, "get_one_or_create", S, LegacyTag, name="c")
    assert hook.points() == ["before_create", "after_create"]
    hook.calls.clear()
    await legacy(db, "get_one_or_create", S, LegacyTag, name="c")  # exists: no create
    assert hook.calls == []


async def test_soft_delete_and_restore_fire_hooks_via_a_mixin(db):
    hook = Recorder()
    register_hook(SoftDeleteMixin, hook)  # registered on the mixin, applies to LegacyDoc
    doc = db.seed(LegacyDoc(title="a"))[0]
    assert await legacy(db, "soft_delete_row", doc.id, S, LegacyDoc) is True
    assert hook.points() == ["before_delete", "after_delete"]
    hook.calls.clear()
    assert await legacy(db, "restore_row", doc.id, S, LegacyDoc) is True
    assert hook.calls[0] == (
        "before_update",
        {"is_deleted": False, "deleted_at": None, "deleted_by": None},
    )
    assert hook.points() == ["before_update", "after_update"]
    assert get_hooks(LegacyDoc) == [hook]
    assert get_hooks(LegacyTag) == []


async def test_before_update_may_rewrite_the_data(db):
    class Shout:
        def before_update(self, instance, data):
            return {key: value.upper() for key, value in data.items()}

    register_hook(LegacyTag, Shout())
    tag = db.seed(LegacyTag(name="a"))[0]
    ok, row = await legacy(db, "update_row", tag.id, {"note": "quiet"}, S, LegacyTag)
    assert ok
    assert row.note == "QUIET"
    assert stored(db, LegacyTag)[0].note == "QUIET"


class Veto:
    def before_create(self, instance):
        raise PermissionError("no creating")

    def before_update(self, instance, data):
        raise PermissionError("no updating")

    def before_delete(self, instance):
        raise PermissionError("no deleting")


async def test_a_raising_before_hook_aborts_with_nothing_written(db):
    tag = db.seed(LegacyTag(name="a", note="original"))[0]
    register_hook(LegacyTag, Veto())
    assert await legacy(db, "write_row", LegacyTag(name="b"), S) == (False, None)
    ok, result = await legacy(db, "insert_data_rows", [LegacyTag(name="c")], S)
    assert ok == (False,)  # v0.1's status when no row was written
    assert [row.name for row in result["failed"]] == ["c"]
    assert await legacy(db, "get_one_or_create", S, LegacyTag, name="d") == (None, False)
    ok, row = await legacy(db, "update_row", tag.id, {"note": "x"}, S, LegacyTag)
    assert (ok, row.note) == (False, "original")  # v0.1: the row, as it is
    assert await legacy(db, "delete_row", tag.id, S, LegacyTag) is False
    with pytest.raises(PermissionError, match="no creating"):
        await legacy(db, "write_row", LegacyTag(name="b"), S, raise_on_error=True)
    with pytest.raises(PermissionError, match="no updating"):
        await legacy(db, "update_row", tag.id, {"note": "x"}, S, LegacyTag, raise_on_error=True)
    with pytest.raises(PermissionError, match="no deleting"):
        await legacy(db, "delete_row", tag.id, S, LegacyTag, raise_on_error=True)
    await db.commit()  # nothing pending either
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [("a", "original")]


class LateVeto:
    def after_create(self, instance):
        raise PermissionError("refused after create")

    def after_update(self, instance):
        raise PermissionError("refused after update")

    def after_delete(self, instance):
        raise PermissionError("refused after delete")


async def test_a_raising_after_hook_undoes_the_write(db):
    tag = db.seed(LegacyTag(name="a", note="original"))[0]
    register_hook(LegacyTag, LateVeto())
    assert await legacy(db, "write_row", LegacyTag(name="b"), S) == (False, None)
    ok, _ = await legacy(db, "insert_data_rows", [LegacyTag(name="c"), LegacyTag(name="e")], S)
    assert ok == (False,)  # v0.1's status when no row was written
    assert await legacy(db, "get_one_or_create", S, LegacyTag, name="d") == (None, False)
    ok, row = await legacy(db, "update_row", tag.id, {"note": "x"}, S, LegacyTag)
    assert (ok, row.note) == (False, "x")  # v0.1: the row with the attempted values
    assert await legacy(db, "delete_row", tag.id, S, LegacyTag) is False
    with pytest.raises(PermissionError, match="after update"):
        await legacy(db, "update_row", tag.id, {"note": "x"}, S, LegacyTag, raise_on_error=True)
    await db.commit()
    assert [(row.name, row.note) for row in stored(db, LegacyTag)] == [("a", "original")]


async def test_hooks_on_a_base_class_apply_to_subclasses(db):
    hook = Recorder()
    register_hook(object, hook)
    await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert hook.points() == ["before_create", "after_create"]
    unregister_hook(object, hook)
    await legacy(db, "write_row", LegacyTag(name="b"), S)
    assert hook.points() == ["before_create", "after_create"]


async def test_async_hooks_are_awaited_by_async_calls_and_refused_by_sync_ones(db):
    hook = AsyncRecorder()
    register_hook(LegacyTag, hook)
    if db.mode == "sync":
        with pytest.raises(TypeError, match="async"):
            await legacy(db, "write_row", LegacyTag(name="a"), S)
        assert stored(db, LegacyTag) == []
        return
    ok, tag = await legacy(db, "write_row", LegacyTag(name="a"), S)
    assert ok
    ok, row = await legacy(db, "update_row", tag.id, {"note": "x"}, S, LegacyTag)
    assert row.note == "async"
    assert await legacy(db, "delete_row", tag.id, S, LegacyTag) is True
    assert hook.calls == ["before_create", "before_update", "after_delete"]
    assert stored(db, LegacyTag) == []


async def test_set_based_writes_do_not_fire_hooks(db):
    hook = Recorder()
    register_hook(object, hook)
    db.seed(LegacyTag(name="a"), LegacyDoc(title="d"))
    assert await db.run(Q(LegacyTag).where(name="a"), "update", note="set") == 1
    assert await db.run(Q(LegacyDoc), "delete") == 1
    assert await db.run(Q(LegacyTag), "delete") == 1
    await db.commit()
    ok, rows = await legacy(db, "bulk_upsert_mappings", [{"id": 1, "name": "z"}], S, LegacyTag)
    assert ok
    assert len(rows) == 1
    assert hook.calls == []
