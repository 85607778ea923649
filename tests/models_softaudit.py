"""Models for the soft-delete and audit tests: an author (audited, soft
deletable) has books (soft deletable); a folder nests folders (self-reference).

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import AuditMixin, SoftDeleteMixin


class SaAuthor(SQLModel, AuditMixin, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    books: list["SaBook"] = Relationship(back_populates="author")


class SaBook(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)
    author_id: int | None = Field(default=None, foreign_key="saauthor.id")
    author: SaAuthor | None = Relationship(back_populates="books")


class SaFolder(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="safolder.id")
    parent: "SaFolder" = Relationship(
        back_populates="children", sa_relationship_kwargs={"remote_side": "SaFolder.id"}
    )
    children: list["SaFolder"] = Relationship(back_populates="parent")
