"""A tour of sqlmodel-crud-utils against an embedded SQLite file.

Run with ``make demo``. Prints each chained query, the SQL it runs and its
result, first on a sync session, then the same queries on an async one;
then pagination (offset and keyset), a set-based update inside a
transaction, and soft delete.
"""

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, Relationship, Session, SQLModel, create_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, QueryError, SoftDeleteMixin, transaction


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    members: list["Hero"] = Relationship(back_populates="team")


class Hero(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    age: int | None = None
    team_id: int | None = Field(default=None, foreign_key="team.id")
    team: Team | None = Relationship(back_populates="members")


adults = Q(Hero).where(age__gte=18)  # a partial query, shared and refined below
QUERIES: list[tuple[str, Q[Hero]]] = [
    ("Adults, oldest first", adults.order_by("-age")),
    ("Adults whose name contains 'man' (any case)", adults.where(name__icontains="man")),
    (
        "Members of the Avengers, with their team",
        Q(Hero).where(team__name="Avengers").include("team").order_by("name"),
    ),
    (
        "Under 18 or without a team",
        Q(Hero).where_any(age__lt=18, team_id__isnull=True).order_by("name"),
    ),
    (
        "Everyone but the Avengers, page 1 of 2",
        Q(Hero).exclude(team__name="Avengers").order_by("name").page(1, size=2),
    ),
]


def one_line(sql: str) -> str:
    return " ".join(sql.split())


def show(title: str, q: Q[Hero], heroes: list[Hero]) -> None:
    print(f"\n== {title}")
    print(f"   SQL: {one_line(q.sql('sqlite'))}")
    for hero in heroes:
        team = f", {hero.team.name}" if "team" in hero.__dict__ and hero.team else ""
        print(f"   -> {hero.name} (age {hero.age}{team})")


def seed(session: Session) -> None:
    avengers, defenders = Team(name="Avengers"), Team(name="Defenders")
    session.add_all(
        [
            Hero(name="Iron Man", age=48, team=avengers),
            Hero(name="Spider-Man", age=17, team=avengers),
            Hero(name="Black Widow", age=35, team=avengers),
            Hero(name="Daredevil", age=32, team=defenders),
            Hero(name="Jessica Jones", age=30, team=defenders),
            Hero(name="Batman", age=40),
            Hero(name="Deadpond"),
        ]
    )
    session.commit()


def run_sync(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
        print("# sync Session")
        for title, q in QUERIES:
            show(title, q, q.all(session))

        page = Q(Hero).order_by("name").paginate(session, page=2, size=3)
        print(f"\n== paginate(page=2, size=3): {[h.name for h in page.items]}")
        print(f"   total={page.total} pages={page.pages} has_prev={page.has_prev}")

        by_age = Q(Hero).where(age__isnull=False).order_by("-age")
        cursor_page = by_age.keyset(session, size=3)
        print(f"\n== keyset(size=3): {[h.name for h in cursor_page.items]}")
        cursor_page = by_age.keyset(session, size=3, after=cursor_page.next_cursor)
        print(f"   next page:       {[h.name for h in cursor_page.items]}")

        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        with transaction(session):
            changed = Q(Hero).where(team__name="Defenders").update(session, age=33)
        print(f"\n== update inside transaction(): {changed} rows")
        print(f"   SQL: {one_line(statements[0])}")

        Q(Hero).where(name="Deadpond").delete(session)
        session.commit()
        print("\n== soft delete of Deadpond")
        print(f"   count()                 = {Q(Hero).count(session)}")
        print(f"   soft('include').count() = {Q(Hero).soft('include').count(session)}")
        print(f"   soft('only')            = {[h.name for h in Q(Hero).soft('only').all(session)]}")

        try:
            Q(Hero).where(power__gte="9000")
        except QueryError as exc:
            print(f"\n== bad input is refused before any SQL runs:\n   QueryError: {exc}")
    engine.dispose()


async def run_async(path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with AsyncSession(engine) as session:
        print("\n# AsyncSession: the same queries through the a_ terminals")
        for title, q in QUERIES:
            show(title, q, await q.a_all(session))
        print(f"\n== a_count(adults) = {await adults.a_count(session)}")
    await engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.db"
        run_sync(path)
        asyncio.run(run_async(path))


if __name__ == "__main__":
    main()
