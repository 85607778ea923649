"""A tour of sqlmodel-crud-utils against an embedded SQLite file.

Run with ``make demo``. Prints each chained query, its SQL and its result,
first with a sync session, then the same queries with an async one.
"""

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, Relationship, Session, SQLModel, create_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    members: list["Hero"] = Relationship(back_populates="team")


class Hero(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    age: int | None = None
    team_id: int | None = Field(default=None, foreign_key="team.id")
    team: Team | None = Relationship(back_populates="members")


QUERIES: list[tuple[str, Q[Hero]]] = [
    ("Heroes over 30, oldest first", Q(Hero).where(age__gt=30).order_by("-age")),
    ("Names containing 'man' (any case)", Q(Hero).where(name__icontains="man")),
    ("Members of the Avengers", Q(Hero).where(team__name="Avengers").order_by("name")),
    ("Heroes with their team, page 1 of 2", Q(Hero).include("team").order_by("name").page(1, 2)),
]


def show(title: str, q: Q[Hero], heroes: list[Hero]) -> None:
    print(f"\n== {title}")
    print("   " + " ".join(q.sql("sqlite").split()))
    for hero in heroes:
        print(f"   -> {hero.name} (age {hero.age})")


def seed(session: Session) -> None:
    avengers = Team(name="Avengers")
    session.add_all(
        [
            Hero(name="Iron Man", age=48, team=avengers),
            Hero(name="Spider-Man", age=17, team=avengers),
            Hero(name="Black Widow", age=35, team=avengers),
            Hero(name="Batman", age=40),
        ]
    )
    session.commit()


def run_sync(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
        print("# sync session")
        for title, q in QUERIES:
            show(title, q, q.all(session))
        page = Q(Hero).order_by("name").paginate(session, page=1, size=3)
        print(f"\n== paginate: {page.total} heroes, {page.pages} pages, has_next={page.has_next}")
        print(f"== count of heroes over 30: {Q(Hero).where(age__gt=30).count(session)}")
    engine.dispose()


async def run_async(path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with AsyncSession(engine) as session:
        print("\n# async session (same queries, a_ terminals)")
        for title, q in QUERIES:
            show(title, q, await q.a_all(session))
    await engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.db"
        run_sync(path)
        asyncio.run(run_async(path))


if __name__ == "__main__":
    main()
