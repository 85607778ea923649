"""Property test: whatever a caller passes to the legacy functions, the
outcome is a return value or an exception of our hierarchy, never a raw
SQLAlchemy, driver or Python error; and the session stays usable.

Bounded budget (``derandomize=True``: the same examples on every run), on
every backend, sync and async.
"""

from __future__ import annotations

import decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlmodel_crud_utils import (
    Q,
    SQLModelCRUDError,
    a_bulk_upsert_mappings,
    a_get_row,
    a_get_rows,
    a_get_rows_within_id_list,
    a_update_row,
    bulk_upsert_mappings,
    get_row,
    get_rows,
    get_rows_within_id_list,
    update_row,
)
from sqlmodel_crud_utils.exceptions import QueryError, UsageError
from tests.models import Hero

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

FIELDS = ["id", "name", "age", "rating", "is_active", "born", "seen_at", "uid", "kind", "team_id"]
OPERATORS = ["", "__gt", "__gte", "__lt", "__in", "__like", "__contains", "__isnull", "__between"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([decimal.Decimal("sNaN"), decimal.Decimal("-1e400")]),
    st.text(max_size=12),
    st.sampled_from(["\x00", "\ud800", "%\\", "_%", "abc", "12", "¹²", "2024-13-45", "true"]),
    st.binary(max_size=4),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.tuples(SCALARS, SCALARS))
KEYS = st.one_of(
    st.builds(lambda field, op: field + op, st.sampled_from(FIELDS), st.sampled_from(OPERATORS)),
    st.sampled_from(["team__name", "team__city__name", "nope", "metadata", "__class__"]),
)


async def outcome(db: Any, functions: tuple[Any, Any], arguments: Any, **kwargs: Any) -> None:
    """Call the sync or async function with ``arguments(session)``, once
    with ``raise_on_error=True`` (any exception must be ours) and once
    without (only our `QueryError` and `UsageError` may escape: v0.1's
    return conventions hold); the session must work afterwards."""
    sync_function, async_function = functions
    for raise_on_error in (True, False):
        try:
            if db.async_session is None:
                sync_function(*arguments(db.session), raise_on_error=raise_on_error, **kwargs)
            else:
                session = db.async_session
                await async_function(*arguments(session), raise_on_error=raise_on_error, **kwargs)
        except (QueryError, UsageError):
            pass
        except SQLModelCRUDError:
            assert raise_on_error
        assert await db.run(Q(Hero), "count") >= 0


@FUZZ
@given(
    lookups=st.dictionaries(KEYS, VALUES, max_size=3),
    sort=st.one_of(st.none(), st.sampled_from([*FIELDS, "nope", "-age", ""])),
    sort_desc=st.one_of(st.booleans(), st.sampled_from(["false", "yes", "maybe"])),
    page=st.one_of(st.integers(min_value=-5, max_value=2**64), st.sampled_from(["2", "x"])),
    size=st.one_of(st.integers(min_value=-5, max_value=2**64), st.sampled_from(["20", None])),
)
async def test_get_rows(
    db: Any, lookups: dict[str, Any], sort: Any, sort_desc: Any, page: Any, size: Any
) -> None:
    kwargs = dict(lookups, sort_field=sort, sort_desc=sort_desc)
    await outcome(
        db, (get_rows, a_get_rows), lambda s: (s, Hero), page=page, page_size=size, **kwargs
    )


@FUZZ
@given(key=VALUES, pk_field=st.sampled_from(["id", "name", "nope", "team"]))
async def test_get_row(db: Any, key: Any, pk_field: str) -> None:
    await outcome(db, (get_row, a_get_row), lambda s: (key, s, Hero), pk_field=pk_field)


@FUZZ
@given(ids=st.one_of(SCALARS, st.lists(SCALARS, max_size=5)))
async def test_get_rows_within_id_list(db: Any, ids: Any) -> None:
    await outcome(
        db, (get_rows_within_id_list, a_get_rows_within_id_list), lambda s: (ids, s, Hero)
    )


@FUZZ
@given(key=SCALARS, data=st.one_of(st.dictionaries(KEYS, VALUES, max_size=3), SCALARS))
async def test_update_row(db: Any, key: Any, data: Any) -> None:
    hero = db.seed(Hero(name="Fuzzed", age=30))[0]
    for target in (hero.id, key):
        await outcome(db, (update_row, a_update_row), lambda s, t=target: (t, data, s, Hero))


@FUZZ
@given(
    payload=st.one_of(
        SCALARS,
        st.lists(
            st.dictionaries(st.sampled_from(FIELDS + ["nope"]), SCALARS, max_size=4), max_size=3
        ),
    ),
    pk_fields=st.one_of(st.none(), st.lists(st.sampled_from(FIELDS + ["nope"]), max_size=2)),
)
async def test_bulk_upsert_mappings(db: Any, payload: Any, pk_fields: Any) -> None:
    await outcome(
        db, (bulk_upsert_mappings, a_bulk_upsert_mappings), lambda s: (payload, s, Hero, pk_fields)
    )
