"""Models with `TrackChangesMixin` for the change-history tests, and a few
the result-cache tests need (a database-side cascade, a JSON column, a
relationship loaded eagerly by default).

No ``from __future__ import annotations`` here: SQLModel needs real annotations.
"""

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin, TrackChangesMixin


class TrackedItem(SQLModel, TrackChangesMixin, table=True):
    __track_exclude__ = ("secret",)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    qty: int = 0
    secret: str | None = Field(default=None, max_length=50)


class TrackedDoc(SQLModel, TrackChangesMixin, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=50)


class TrackedPair(SQLModel, TrackChangesMixin, table=True):
    a: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    b: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    label: str | None = Field(default=None, max_length=50)


class CachedFolder(SQLModel, table=True):
    """A parent whose children the database deletes with it (ON DELETE CASCADE)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=50)


class CachedFile(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    folder_id: int | None = Field(default=None, foreign_key="cachedfolder.id", ondelete="CASCADE")
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class EagerOwner(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    pets: list["EagerPet"] = Relationship(sa_relationship_kwargs={"lazy": "selectin"})


class EagerPet(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(default=None, foreign_key="eagerowner.id")
