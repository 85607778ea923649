"""Models for the legacy-API and hook tests (tables prefixed ``legacy_``)."""

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin


class LegacyTag(SQLModel, table=True):
    """A unique name, for integrity errors and the get_one_or_create race."""

    __tablename__ = "legacy_tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    note: str = Field(default="", max_length=100)
    status: str | None = Field(
        default=None, max_length=20, sa_column_kwargs={"server_default": "new"}
    )


class LegacyDoc(SoftDeleteMixin, SQLModel, table=True):
    """A soft-delete model."""

    __tablename__ = "legacy_doc"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)


class LegacyScore(SQLModel, table=True):
    """A composite key, for bulk upserts keyed on several fields."""

    __tablename__ = "legacy_score"
    __table_args__ = (UniqueConstraint("player", "game"),)

    id: int | None = Field(default=None, primary_key=True)
    player: str = Field(max_length=50)
    game: str = Field(max_length=50)
    points: int = 0


class LegacyLabel(SQLModel, table=True):
    """A field (``code``) whose column has another name (``label_code``)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column("label_code", String(50), unique=True, nullable=False))
    note: str = Field(default="", max_length=50)
