"""A model with `TimestampMixin` for the timestamp tests.

No ``from __future__ import annotations`` here: SQLModel needs real annotations.
"""

from sqlmodel import Field, SQLModel

from sqlmodel_crud_utils import TimestampMixin


class TsNote(SQLModel, TimestampMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(default="", max_length=100)
