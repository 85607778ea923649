"""A shelf whose soft-deletable items are declared ``lazy="joined"``: every
load of a shelf loads its items in the same statement.

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin


class JdShelf(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    items: list["JdItem"] = Relationship(
        back_populates="shelf", sa_relationship_kwargs={"lazy": "joined"}
    )


class JdItem(SQLModel, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)
    shelf_id: int | None = Field(default=None, foreign_key="jdshelf.id")
    shelf: JdShelf | None = Relationship(back_populates="items")


class JdNode(SQLModel, SoftDeleteMixin, table=True):
    """A tree joined eagerly to itself."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="jdnode.id")
    parent: "JdNode" = Relationship(
        back_populates="children",
        sa_relationship_kwargs={"remote_side": "JdNode.id", "lazy": "joined"},
    )
    children: list["JdNode"] = Relationship(
        back_populates="parent", sa_relationship_kwargs={"lazy": "joined", "join_depth": 1}
    )
