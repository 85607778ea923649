"""Models for the JSON lookup tests: an owner has devices whose settings
are a JSON document; both are soft deletable.

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin


class JsOwner(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    devices: list["JsDevice"] = Relationship(back_populates="owner")


class JsDevice(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    settings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # JSONB on PostgreSQL, JSON elsewhere: a common declaration
    extra: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON().with_variant(JSONB(), "postgresql"))
    )
    owner_id: int | None = Field(default=None, foreign_key="jsowner.id")
    owner: JsOwner | None = Relationship(back_populates="devices")
