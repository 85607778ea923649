"""Call a legacy function the way a v0.1 user would, in the mode of ``db``.

``await legacy(db, "get_row", 1, S, Hero)`` calls
``sqlmodel_crud_utils.sync.get_row(1, session, Hero)`` in sync mode and
``await sqlmodel_crud_utils.a_sync.get_row(1, async_session, Hero)`` in async
mode; ``S`` marks where the session goes (positionally or as a keyword).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from sqlmodel_crud_utils import a_sync as legacy_async
from sqlmodel_crud_utils import sync as legacy_sync

S: Any = object()


async def legacy(db: Any, function: str, /, *args: Any, **kwargs: Any) -> Any:
    session = db.session if db.async_session is None else db.async_session

    def fill(value: Any) -> Any:
        return session if value is S else value

    args = tuple(fill(arg) for arg in args)
    kwargs = {key: fill(value) for key, value in kwargs.items()}
    if db.async_session is None:
        return getattr(legacy_sync, function)(*args, **kwargs)
    return await getattr(legacy_async, function)(*args, **kwargs)


def stored(db: Any, model: Any, *criteria: Any) -> list[Any]:
    """The rows of ``model`` in the database, read through a fresh session."""
    with Session(db.backend.engine, expire_on_commit=False) as session:
        stmt = select(model).where(*criteria).order_by(*model.__table__.primary_key.columns)
        return list(session.exec(stmt).all())
