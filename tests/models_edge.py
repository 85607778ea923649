"""Models with less common column setups: a value-converting TypeDecorator,
an IntEnum, a boolean flag, and a version counter."""

import enum
import uuid

from sqlalchemy import CHAR, Integer
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel


class GUID(TypeDecorator[uuid.UUID]):
    """SQLAlchemy's documented GUID recipe: UUIDs stored as 32 hex characters."""

    impl = CHAR(32)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else uuid.UUID(str(value)).hex

    def process_result_value(self, value, dialect):
        return None if value is None else uuid.UUID(value)


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class EdgeGadget(SQLModel, table=True):
    __tablename__ = "edge_gadget"

    id: int | None = Field(default=None, primary_key=True)
    ext: uuid.UUID = Field(sa_column=Column(GUID(), unique=True, nullable=False))
    priority: Priority = Priority.LOW
    flag: bool = False


_version = Column("version", Integer, nullable=False)


class EdgeVersioned(SQLModel, table=True):
    __tablename__ = "edge_versioned"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(default="", max_length=50)
    version: int | None = Field(default=None, sa_column=_version)
