from __future__ import annotations

from sqlmodel_crud_utils import Q
from tests.models import City, Hero, Team


async def test_chained_query_returns_matching_rows(db):
    city = City(name="New York")
    db.seed(city)
    avengers = Team(name="Avengers", city_id=city.id)
    db.seed(avengers)
    db.seed(
        Hero(name="Iron Man", age=48, team_id=avengers.id),
        Hero(name="Spider-Man", age=17, team_id=avengers.id),
        Hero(name="Batman", age=40),
    )
    q = Q(Hero).where(age__gt=20, team__city__name="New York").order_by("-age")
    rows = await db.run(q, "all")
    assert [h.name for h in rows] == ["Iron Man"]
    assert await db.run(Q(Hero), "count") == 3
    page = await db.run(Q(Hero).order_by("name"), "paginate", 1, 2)
    assert [h.name for h in page.items] == ["Batman", "Iron Man"]
    assert (page.total, page.pages, page.has_next) == (3, 2, True)
