"""A many-to-many through a soft-delete link model (SQLModel's
``Relationship(link_model=...)``): a soft-deleted link hides the pair on
every path — ``include`` (each strategy), lazy loads, relationship filters,
annotations — on every backend, sync and async; ``soft("include")`` and
``with_deleted()`` show it again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from sqlmodel_crud_utils import Count, Q, with_deleted
from tests.models_links import LkCourse, LkEnrollment, LkStudent


def seed(db: Any) -> None:
    math, art = LkCourse(title="math"), LkCourse(title="art")
    db.seed(LkStudent(name="ann", courses=[math, art]), LkStudent(name="bob", courses=[art]))
    with Session(db.backend.engine) as session:
        ann = session.exec(select(LkStudent).where(LkStudent.name == "ann")).one()
        session.exec(  # type: ignore[call-overload]
            update(LkEnrollment)
            .where(LkEnrollment.student_id == ann.id, LkEnrollment.course_id == art.id)
            .values(is_deleted=True)
        )
        session.commit()


async def courses_of(db: Any, q: Q[Any]) -> dict[str, list[str]]:
    students = await db.run(q.order_by("name"), "all")
    return {s.name: sorted(c.title for c in s.courses) for s in students}


@pytest.mark.parametrize("strategy", ["selectin", "joined", "subquery"])
async def test_include_follows_live_links(db: Any, strategy: str) -> None:
    seed(db)
    q = Q(LkStudent).include("courses", strategy=strategy)
    assert await courses_of(db, q) == {"ann": ["math"], "bob": ["art"]}
    back = await db.run(Q(LkCourse).include("students", strategy=strategy).order_by("title"), "all")
    assert {c.title: sorted(s.name for s in c.students) for c in back} == {
        "art": ["bob"],
        "math": ["ann"],
    }
    everything = q.soft("include")
    assert await courses_of(db, everything) == {"ann": ["art", "math"], "bob": ["art"]}


async def test_relationship_filters_and_annotations_follow_live_links(db: Any) -> None:
    seed(db)
    art_takers = Q(LkStudent).where(courses__title="art")
    assert [s.name for s in await db.run(art_takers, "all")] == ["bob"]
    assert [c.title for c in await db.run(Q(LkCourse).where(students__name="ann"), "all")] == [
        "math"
    ]
    assert await db.run(art_takers.soft("include").order_by("name"), "count") == 2
    counts = Q(LkStudent).annotate(n=Count("courses")).order_by("name")
    assert await db.run(counts, "values_list", "name", "n") == [("ann", 1), ("bob", 1)]


def test_lazy_loads_follow_live_links(db: Any) -> None:
    if db.mode == "async":
        pytest.skip("async sessions cannot lazy-load")
    seed(db)
    ann = db.session.exec(select(LkStudent).where(LkStudent.name == "ann")).one()
    assert [c.title for c in ann.courses] == ["math"]
    db.session.expunge_all()
    stmt = select(LkStudent).where(LkStudent.name == "ann").options(with_deleted())
    ann = db.session.exec(stmt).one()
    assert sorted(c.title for c in ann.courses) == ["art", "math"]
