"""The one error policy, on every backend, sync and async: what the
database refuses reaches the caller as an exception of our hierarchy
naming model, column and value (or constraint), and the session stays
usable."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from sqlmodel_crud_utils import (
    ConstraintError,
    DatabaseConnectionError,
    Q,
    TransactionError,
    ValidationError,
)
from tests.legacy_helpers import S, legacy, stored
from tests.models import Hero
from tests.models_legacy import LegacyTag


async def test_a_value_no_column_of_the_type_holds_is_refused_on_every_backend(db: Any) -> None:
    with pytest.raises(ValidationError, match="Hero") as info:
        await legacy(db, "write_row", Hero(name="Giant", age=2**40), S, raise_on_error=True)
    assert (info.value.field, info.value.value) == ("age", 2**40)
    assert await legacy(db, "write_row", Hero(name="x\x00y"), S) == (False, None)
    assert stored(db, Hero) == []
    assert await db.run(Q(Hero), "count") == 0


async def test_update_row_refuses_text_for_a_number(db: Any) -> None:
    (hero,) = db.seed(Hero(name="Typed", age=30))
    with pytest.raises(ValidationError) as info:
        await legacy(db, "update_row", hero.id, {"age": "abc"}, S, Hero, raise_on_error=True)
    assert info.value.field == "age"
    assert [row.age for row in stored(db, Hero)] == [30]


async def test_a_broken_constraint_names_it(db: Any) -> None:
    db.seed(LegacyTag(name="taken"))
    with pytest.raises(ConstraintError) as info:
        await legacy(db, "write_row", LegacyTag(name="taken"), S, raise_on_error=True)
    assert isinstance(info.value, TransactionError)  # what 0.2.0 raised
    assert info.value.constraint
    assert info.value.__cause__ is not None
    assert [tag.name for tag in stored(db, LegacyTag)] == ["taken"]
    assert await db.run(Q(LegacyTag), "count") == 1


KILL = {
    "postgresql": ("SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})"),
    "mariadb": ("SELECT CONNECTION_ID()", "KILL CONNECTION {}"),
}


async def test_a_lost_connection_is_a_database_connection_error(db: Any) -> None:
    if db.name not in KILL:
        pytest.skip("SQLite runs in-process: there is no connection to lose")
    whoami, kill = KILL[db.name]
    db.seed(Hero(name="Survivor"))
    if db.async_session is None:
        own_id = db.session.connection().execute(text(whoami)).scalar_one()
    else:
        own_id = (await (await db.async_session.connection()).execute(text(whoami))).scalar_one()
    with db.backend.engine.connect() as admin:
        admin.execute(text(kill.format(int(own_id))))
        admin.commit()
    with pytest.raises(DatabaseConnectionError) as info:
        await db.run(Q(Hero), "all")
    assert info.value.original_error is not None
    # rolled back: the next call gets a fresh connection
    assert [hero.name for hero in await db.run(Q(Hero), "all")] == ["Survivor"]
