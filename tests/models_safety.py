"""Models for the transaction and engine tests (a unique constraint to violate)."""

from sqlmodel import Field, SQLModel


class Account(SQLModel, table=True):
    __tablename__ = "safety_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=100, unique=True)
    owner: int = Field(default=0, index=True)
    balance: int = 0
