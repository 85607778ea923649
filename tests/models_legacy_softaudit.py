"""Models for the legacy soft-delete and audit tests (tables prefixed ``lsa_``):
an audited, soft-deletable post with a full-text body has soft-deletable
comments; a tag has a unique name.

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlalchemy import Index
from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import AuditMixin, SoftDeleteMixin


class LsaPost(SQLModel, AuditMixin, SoftDeleteMixin, table=True):
    __tablename__ = "lsa_post"
    __table_args__ = (Index("ix_lsa_post_body_fulltext", "body", mysql_prefix="FULLTEXT"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100)
    body: str = Field(default="", max_length=255)
    comments: list["LsaComment"] = Relationship(back_populates="post")


class LsaComment(SQLModel, SoftDeleteMixin, table=True):
    __tablename__ = "lsa_comment"

    id: int | None = Field(default=None, primary_key=True)
    body: str = Field(max_length=100)
    post_id: int | None = Field(default=None, foreign_key="lsa_post.id")
    post: LsaPost | None = Relationship(back_populates="comments")


class LsaTag(SQLModel, AuditMixin, SoftDeleteMixin, table=True):
    """A unique name held by live and soft-deleted rows alike."""

    __tablename__ = "lsa_tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    note: str = Field(default="", max_length=100)
