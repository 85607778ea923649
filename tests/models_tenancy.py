"""Models for the tenant-scope tests: a plan (not tenant-scoped) has orgs;
an org (tenant-scoped, soft deletable) has users (tenant-scoped,
versioned) and users have notes (a ``str`` tenant id).

No ``from __future__ import annotations`` here: SQLModel relationships need
real annotations.
"""

from sqlmodel import Field, Relationship, SQLModel

from sqlmodel_crud_utils import SoftDeleteMixin, StrTenantMixin, TenantMixin, VersionMixin


class TnPlan(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    orgs: list["TnOrg"] = Relationship(back_populates="plan")


class TnOrg(SQLModel, TenantMixin, SoftDeleteMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    plan_id: int | None = Field(default=None, foreign_key="tnplan.id")
    plan: TnPlan | None = Relationship(back_populates="orgs")
    users: list["TnUser"] = Relationship(back_populates="org")


class TnUser(SQLModel, TenantMixin, VersionMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    age: int = 0
    org_id: int | None = Field(default=None, foreign_key="tnorg.id")
    org: TnOrg | None = Relationship(back_populates="users")


class TnNote(SQLModel, StrTenantMixin, table=True):
    id: int | None = Field(default=None, primary_key=True)
    body: str = Field(max_length=50)
