"""Models for the `Q` tests: Decimal and enum coercion, soft-delete scope.

No ``from __future__ import annotations`` here (SQLModel relationships).
"""

import datetime as dt
import decimal
import enum

from sqlalchemy import DateTime, Numeric
from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin


class Color(str, enum.Enum):
    """Names differ from values, so coercion by either can be told apart."""

    RED = "r"
    GREEN = "g"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class QShelf(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(default="", max_length=50)
    items: list["QItem"] = Relationship(back_populates="shelf")


class QItem(SQLModel, SoftDeleteMixin, table=True):
    """A soft-delete model with a Decimal and two kinds of enum."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=50)
    price: decimal.Decimal | None = Field(default=None, sa_type=Numeric(10, 2))
    color: Color = Color.RED
    level: Level = Level.LOW
    shelf_id: int | None = Field(default=None, foreign_key="qshelf.id")
    shelf: QShelf | None = Relationship(back_populates="items")


class QStamp(SQLModel, table=True):
    """One time-zone-aware and one naive date-time column, declared
    explicitly so they do not depend on SQLModel's default mapping."""

    id: int | None = Field(default=None, primary_key=True)
    aware_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    naive_at: dt.datetime | None = Field(default=None, sa_type=DateTime())


class QGame(SQLModel, table=True):
    """A column named like a built-in operator (``match``)."""

    id: int | None = Field(default=None, primary_key=True)
    match: str = Field(default="", max_length=50)
    players: list["QPlayer"] = Relationship(back_populates="game")


class QPlayer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=50)
    game_id: int | None = Field(default=None, foreign_key="qgame.id")
    game: QGame | None = Relationship(back_populates="players")


class QJoinedOwner(SQLModel, table=True):
    """Relationships declared ``lazy="joined"`` both ways."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=50)
    pets: list["QJoinedPet"] = Relationship(
        back_populates="owner", sa_relationship_kwargs={"lazy": "joined"}
    )


class QJoinedPet(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=50)
    owner_id: int | None = Field(default=None, foreign_key="qjoinedowner.id")
    owner: QJoinedOwner | None = Relationship(
        back_populates="pets", sa_relationship_kwargs={"lazy": "joined"}
    )
