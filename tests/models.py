"""Models shared by the behaviour tests (a team has members; a team has a city).

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations (forward references as strings).
"""

import datetime as dt
import enum
import uuid

from sqlalchemy import Index
from sqlmodel import Field, Relationship, SQLModel


class HeroKind(str, enum.Enum):
    human = "human"
    mutant = "mutant"
    alien = "alien"


class City(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    teams: list["Team"] = Relationship(back_populates="city")


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    headquarters: str = Field(default="", max_length=100)
    city_id: int | None = Field(default=None, foreign_key="city.id")
    city: City | None = Relationship(back_populates="teams")
    members: list["Hero"] = Relationship(back_populates="team")


class Hero(SQLModel, table=True):
    __table_args__ = (Index("ix_hero_bio_fulltext", "bio", mysql_prefix="FULLTEXT"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    secret_name: str = Field(default="", max_length=100)
    bio: str = Field(default="", max_length=255)
    age: int | None = Field(default=None, index=True)
    rating: float | None = None
    is_active: bool = True
    born: dt.date | None = None
    seen_at: dt.datetime | None = None
    alarm: dt.time | None = None
    uid: uuid.UUID | None = None
    kind: HeroKind = HeroKind.human
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    team: Team | None = Relationship(back_populates="members")


class Membership(SQLModel, table=True):
    """A composite primary key."""

    hero_id: int = Field(primary_key=True)
    year: int = Field(primary_key=True)
    role: str = Field(default="", max_length=50)
