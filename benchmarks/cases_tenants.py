"""Case 16: a tenant-scoped 20-row page (`TenantMixin`, issue 17) against
the same hand-written ``select(...).where(tenant_id == ...)``.

The hand-written statement is built per call, as a route handler builds it
for the request's tenant (`Q` serves every tenant from one statement
template). The tenant model is mapped when this case runs, not at import: mapping one
installs the tenant listener on every session, and the other cases must
not pay for a scope they do not use. The hand-written statement carries
``execution_options(all_tenants=True)`` so that the listener leaves it as
written (it filters the tenant itself).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, col, select

from sqlmodel_crud_utils import Q, TenantMixin, tenant_scope

from .cases import case
from .harness import Check, Context

__all__: list[str] = []

ROWS_PER_TENANT = 1_000
PAGE = 20


@cache
def _model() -> Any:
    class TenantBase(SQLModel, registry=registry()):
        pass

    class BenchTenantRow(TenantBase, TenantMixin, table=True):
        __tablename__ = "bench_tenant_row"

        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(max_length=100)
        age: int = 0

    return BenchTenantRow


@case("16", "tenant-scoped page vs hand-written where(tenant_id == ...)")
async def tenant_page(ctx: Context) -> None:
    model = _model()
    model.metadata.drop_all(ctx.engine)
    model.metadata.create_all(ctx.engine)
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(model),
            [
                {"name": f"row {i}", "age": i % 90, "tenant_id": 1 + i % 2}
                for i in range(2 * ROWS_PER_TENANT)
            ],
        )
    ours = Q(model).where(age__gte=10).order_by("id").limit(PAGE)

    def written(tenant: int) -> Any:  # built per call, as a handler builds it for its tenant
        return (
            select(model)
            .where(model.tenant_id == tenant, col(model.age) >= 10)
            .order_by(col(model.id))
            .limit(PAGE)
            .execution_options(all_tenants=True)
        )

    def scoped() -> Any:
        with Session(ctx.engine) as session:
            rows = ours.all(session)
        assert len(rows) == PAGE
        return rows

    def hand_written() -> Any:
        with Session(ctx.engine) as session:
            rows = session.exec(written(1)).all()
        assert len(rows) == PAGE
        return rows

    try:
        with tenant_scope(1):
            assert [r.id for r in scoped()] == [r.id for r in hand_written()]
            await ctx.compare(
                f"page of {PAGE} rows of one tenant, a session per call",
                {"Q.all in tenant_scope": scoped, "hand-written where(tenant_id)": hand_written},
                [Check("Q.all in tenant_scope", "hand-written where(tenant_id)", 1.05)],
            )
    finally:
        model.metadata.drop_all(ctx.engine)
