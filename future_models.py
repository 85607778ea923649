from __future__ import annotations

from sqlmodel import Field, Relationship, SQLModel


class Guild(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    members: list[Member] = Relationship(back_populates="guild")


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    guild_id: int | None = Field(default=None, foreign_key="guild.id")
    guild: Guild | None = Relationship(back_populates="members")
