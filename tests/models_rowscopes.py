"""Models for the user-defined row scope tests: a blog (unscoped) has posts
that are published-only (a registered scope), soft deletable and
tenant-scoped at once.

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin, TenantMixin


class Publishable:
    """The mixin the "published" scope confines."""

    published: bool = Field(default=False, index=True)


class ScBlog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    posts: list["ScPost"] = Relationship(back_populates="blog")


class ScPost(SQLModel, Publishable, SoftDeleteMixin, TenantMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=50)
    blog_id: int | None = Field(default=None, foreign_key="scblog.id")
    blog: ScBlog | None = Relationship(back_populates="posts")
