"""Relationship paths in lookups, and eager loading with include()."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import InvalidRequestError

from sqlmodel_crud_utils import Q
from tests.models import City, Hero, Team

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")


def seed_world(db, heroes_per_team=3, teams=2):
    ny, la = db.seed(City(name="New York"), City(name="Los Angeles"))
    made = []
    for t in range(teams):
        city = ny if t % 2 == 0 else la
        team = db.seed(Team(name=f"Team {t}", city_id=city.id))[0]
        made.append(team)
        db.seed_many(
            Hero,
            [
                {"name": f"h{t}-{i}", "age": 20 + i, "team_id": team.id}
                for i in range(heroes_per_team)
            ],
        )
    db.seed(Hero(name="loner", age=99))
    return made


async def test_many_to_one_paths_several_hops_deep(db):
    seed_world(db)
    rows = await db.run(Q(Hero).where(team__city__name="New York").order_by("name"), "all")
    assert [h.name for h in rows] == ["h0-0", "h0-1", "h0-2"]
    rows = await db.run(Q(Hero).where(team__city__name__icontains="ANGEL"), "count")
    assert rows == 3
    rows = await db.run(Q(Hero).exclude(team__name="Team 0").order_by("name"), "all")
    assert [h.name for h in rows] == ["h1-0", "h1-1", "h1-2", "loner"]
    rows = await db.run(Q(Hero).where(team_id__isnull=True), "all")
    assert [h.name for h in rows] == ["loner"]


async def test_collection_paths_do_not_duplicate_rows(db):
    seed_world(db)
    teams = await db.run(Q(Team).where(members__age__gte=20).order_by("name"), "all")
    assert [t.name for t in teams] == ["Team 0", "Team 1"]  # 3 matching members each
    assert await db.run(Q(Team).where(members__age__gte=20), "count") == 2
    teams = await db.run(Q(Team).where(members__name="h1-2"), "all")
    assert [t.name for t in teams] == ["Team 1"]
    cities = await db.run(Q(City).where(teams__members__name__startswith="h"), "all")
    assert sorted(c.name for c in cities) == ["Los Angeles", "New York"]
    assert await db.run(Q(City).where(teams__members__name="loner"), "all") == []


async def test_where_any_across_relationships(db):
    seed_world(db)
    q = Q(Hero).where_any(team__city__name="Los Angeles", name="loner").order_by("name")
    assert [h.name for h in await db.run(q, "all")] == ["h1-0", "h1-1", "h1-2", "loner"]


def hops_loaded(heroes):
    return {
        (h.name, h.team.name if h.team else None, len(h.team.members) if h.team else 0)
        for h in heroes
    }


@pytest.mark.parametrize(
    ("strategy", "statements"),
    [("selectin", 3), ("joined", 1), ("subquery", 3)],
)
async def test_include_issues_a_bounded_number_of_statements(db, strategy, statements):
    counts = []
    for teams in (1, 10):  # 5 heroes vs 50 heroes (plus the loner)
        db.backend.clean()
        seed_world(db, heroes_per_team=5, teams=teams)
        q = Q(Hero).include("team.members", strategy=strategy).order_by("name")
        with db.count_statements() as seen:
            heroes = await db.run(q, "all")
            loaded = hops_loaded(heroes)  # no lazy load: attributes are already there
        assert len(heroes) == teams * 5 + 1
        assert ("h0-0", "Team 0", 5) in loaded
        counts.append(len(seen))
        if db.mode == "async":
            await db.async_session.close()
        else:
            db.session.close()
    assert counts == [statements, statements]


async def test_include_lazy_loads_on_access_in_sync_mode(db):
    seed_world(db, heroes_per_team=2, teams=3)
    if db.mode == "async":
        pytest.skip("lazy loading needs a sync session")
    with db.count_statements() as seen:
        heroes = Q(Hero).include("team", strategy="lazy").all(db.session)
        [h.team for h in heroes]
    assert len(seen) == 1 + 3  # one per distinct team: lazy, as asked


async def test_include_raise_makes_lazy_access_raise(db):
    seed_world(db, heroes_per_team=1, teams=1)
    hero = await db.run(Q(Hero).where(name="h0-0").include("team", strategy="raise"), "one")
    with pytest.raises(InvalidRequestError, match="raise"):
        _ = hero.team
    team = await db.run(Q(Team).include("members", strategy="raise"), "one")
    with pytest.raises(InvalidRequestError):
        _ = team.members


async def test_include_collections_with_joined_and_limit_keeps_rows_unique(db):
    seed_world(db, heroes_per_team=4, teams=3)
    q = Q(Team).include("members", strategy="joined").order_by("name").limit(2)
    teams = await db.run(q, "all")
    assert [t.name for t in teams] == ["Team 0", "Team 1"]
    assert [len(t.members) for t in teams] == [4, 4]
    page = await db.run(
        Q(Team).include("members", "city", strategy="joined").order_by("name"), "paginate", 1, 2
    )
    assert (len(page.items), page.total) == (2, 3)
    first = await db.run(Q(Team).include("members", strategy="joined").order_by("name"), "first")
    assert len(first.members) == 4


async def test_include_and_filters_on_the_same_relationship(db):
    seed_world(db)
    q = Q(Team).where(members__name="h0-1").include("members")
    team = await db.run(q, "one")
    assert sorted(m.name for m in team.members) == ["h0-0", "h0-1", "h0-2"]
