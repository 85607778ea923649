"""Benchmark tables, on their own SQLAlchemy registry and metadata.

They never join ``SQLModel.metadata``, so the test suite neither creates nor
cleans them, and their names (``bench_*``) cannot clash with other tables in
a shared database. No ``from __future__ import annotations`` here: SQLModel
relationships need real annotations.
"""

from sqlalchemy import Index
from sqlalchemy.orm import registry
from sqlmodel import Field, Relationship, SQLModel

bench_registry = registry()


class BenchBase(SQLModel, registry=bench_registry):
    """Base of the benchmark tables (own metadata: ``BenchBase.metadata``)."""


class BenchTeam(BenchBase, table=True):
    __tablename__ = "bench_team"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    members: list["BenchHero"] = Relationship(back_populates="team")


class BenchHero(BenchBase, table=True):
    __tablename__ = "bench_hero"
    # Serves ORDER BY age DESC, id DESC and the keyset row-value comparison.
    __table_args__ = (Index("ix_bench_hero_age_id", "age", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    secret_name: str = Field(default="", max_length=100)
    age: int = 0
    team_id: int | None = Field(default=None, foreign_key="bench_team.id", index=True)
    team: BenchTeam | None = Relationship(back_populates="members")


class BenchWrite(BenchBase, table=True):
    """Hero-shaped rows for the write cases (6, 7, 8), which empty and refill
    this table as they go; the seeded read tables are never written."""

    __tablename__ = "bench_write"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    secret_name: str = Field(default="", max_length=100)
    age: int = 0
    team_id: int | None = None


METADATA = BenchBase.metadata
