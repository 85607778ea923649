"""User-defined row scopes (`register_scope`): a "published rows only"
scope hides unpublished posts on every read path, composes with soft
delete and tenants, and is lifted by `without_scopes`; every backend, sync
and async."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from sqlmodel_crud_utils import (
    Count,
    Q,
    UsageError,
    all_tenants,
    get_rows,
    register_scope,
    tenant_scope,
    unregister_scope,
    without_scopes,
)
from sqlmodel_crud_utils.rowscopes import scope_key, scope_names
from tests.models_rowscopes import Publishable, ScBlog, ScPost


@pytest.fixture(autouse=True)
def published_only() -> Iterator[None]:
    register_scope("published", Publishable, lambda cls: cls.published == True)  # noqa: E712
    yield
    unregister_scope("published")


def seed(db: Any) -> None:
    blog = ScBlog(name="news")
    with all_tenants():
        db.seed(
            blog,
            ScPost(title="live", published=True, tenant_id=1, blog=blog),
            ScPost(title="draft", published=False, tenant_id=1, blog=blog),
            ScPost(title="gone", published=True, is_deleted=True, tenant_id=1, blog=blog),
            ScPost(title="theirs", published=True, tenant_id=2, blog=blog),
        )


async def titles(db: Any, q: Q[Any]) -> list[str]:
    return sorted(post.title for post in await db.run(q, "all"))


async def test_every_read_path_hides_unpublished_rows(db: Any) -> None:
    seed(db)
    with tenant_scope(1):
        assert await titles(db, Q(ScPost)) == ["live"]
        assert await db.run(Q(ScPost), "count") == 1
        assert await db.run(Q(ScPost), "values_list", "title", flat=True) == ["live"]
        assert await db.run(Q(ScPost), "aggregate", n=Count()) == {"n": 1}
        blogs = await db.run(Q(ScBlog).include("posts"), "all")
        assert [post.title for post in blogs[0].posts] == ["live"]
        assert await db.run(Q(ScBlog).where(posts__title="draft"), "count") == 0
        counted = await db.run(Q(ScBlog).annotate(n=Count("posts")), "values", "n")
        assert counted == [{"n": 1}]
        # a statement you write is confined by tenants and registered scopes;
        # soft delete leaves its root rows to you (documented), hence "gone"
        if db.async_session is None:
            plain = db.session.exec(select(ScPost)).all()
            assert sorted(post.title for post in plain) == ["gone", "live"]
            assert [p.title for p in db.session.exec(select(ScBlog)).one().posts] == ["live"]
            assert [p.title for p in get_rows(db.session, ScPost)[1]] == ["live"]
        else:
            plain = (await db.async_session.exec(select(ScPost))).all()
            assert sorted(post.title for post in plain) == ["gone", "live"]


async def test_set_based_writes_leave_hidden_rows_alone(db: Any) -> None:
    seed(db)
    with tenant_scope(1):
        assert await db.run(Q(ScPost), "update", title="edited") == 1
        await db.commit()
        with without_scopes("published"):
            assert await titles(db, Q(ScPost)) == ["draft", "edited"]


async def test_without_scopes_lifts_them_for_a_block(db: Any) -> None:
    seed(db)
    with tenant_scope(1):
        with without_scopes("published"):
            assert await titles(db, Q(ScPost)) == ["draft", "live"]
            assert await titles(db, Q(ScPost).soft("include")) == ["draft", "gone", "live"]
        with without_scopes():
            assert await db.run(Q(ScPost), "count") == 2
        assert await titles(db, Q(ScPost)) == ["live"]  # back in force
    with all_tenants(), without_scopes():
        assert await titles(db, Q(ScPost)) == ["draft", "live", "theirs"]


def test_nested_without_scopes_keep_everything_lifted() -> None:
    with without_scopes():
        with without_scopes("published"):
            assert scope_key() == ()
        assert scope_key() == ()
    with without_scopes("published"), without_scopes("other"):
        assert scope_key() == ()
    assert scope_key() == ("published",)


def test_registration_is_checked_and_reversible() -> None:
    assert scope_names() == ["published"]
    with pytest.raises(UsageError):
        register_scope("", Publishable, lambda cls: cls.published == True)  # noqa: E712
    with pytest.raises(UsageError):
        register_scope("x", "not a class", lambda cls: cls)  # type: ignore[arg-type]
    unregister_scope("published")
    assert scope_names() == []
    register_scope("published", Publishable, lambda cls: cls.published == True)  # noqa: E712
