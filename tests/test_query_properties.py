"""Property: whatever keys, values, cursors and sizes a client sends, `Q`
fails only with the library's own exceptions (`SQLModelCRUDError`), never a
raw SQLAlchemy, driver or Python error, on every backend, sync and async.

The budget is bounded and deterministic (``derandomize=True``, no example
database): `EXAMPLES` examples per backend and session kind.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from sqlmodel_crud_utils import Q, SQLModelCRUDError
from sqlmodel_crud_utils.lookups import OPERATORS
from tests.models import City, Hero, HeroKind, Team

pytestmark = pytest.mark.filterwarnings("error")

EXAMPLES = 500

FIELDS = [
    "id", "name", "secret_name", "bio", "age", "rating", "is_active", "born", "seen_at",
    "alarm", "uid", "kind", "team_id",
]  # fmt: skip
TEXT_OPERATORS = {
    "like", "ilike", "contains", "icontains", "startswith", "istartswith", "endswith",
    "iendswith", "match",
}  # fmt: skip
#: Relationship paths from Hero back to Hero (so any Hero field follows).
PATHS = ["", "team__members__", "team__city__teams__members__"]

text = st.one_of(
    st.text(max_size=10),
    st.text(max_size=10),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),  # surrogates, NUL
    st.sampled_from(["\ud800", "a\udfffb", "\x00"]),
    st.sampled_from(["\ud800", "a\x00b", "%", "%\\", "\\", "_", "x" * 300, "wizard"]),
)
integers = st.one_of(
    st.integers(min_value=-100, max_value=100),
    st.integers(min_value=-100, max_value=100),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, -(2**31) - 1, 2**63, True, False, "7", "-0"]),
)
reals = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1.5", "nan", "-1e400"]),
)
moments = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.dates(),
    st.sampled_from(["2024-01-31", "2024-01-31T10:00:00Z", "2024-01-31T10:00:00+02:00", 5]),
)
#: Per field: values of its own type, edge and hostile ones among them.
TYPED = {
    "id": integers,
    "age": integers,
    "team_id": integers,
    "name": text,
    "secret_name": text,
    "bio": text,
    "rating": reals,
    "is_active": st.one_of(st.booleans(), st.sampled_from(["yes", "off", 0, 1, 2])),
    "born": moments,
    "seen_at": moments,
    "alarm": st.one_of(st.times(timezones=st.one_of(st.none(), st.timezones())), text),
    "uid": st.one_of(st.uuids(), st.sampled_from(["not-a-uuid", str(uuid.UUID(int=1))])),
    "kind": st.one_of(st.sampled_from(list(HeroKind)), st.sampled_from(["alien", "ALIEN", 3])),
}
scalars = st.one_of(
    st.none(),
    *TYPED.values(),
    st.binary(max_size=8),
    st.sampled_from([object(), {"a": 1}, [[1]], b"\x00"]),
)
names = st.sampled_from(FIELDS + ["nope", "_sa_instance_state", "metadata", "team", ""])
operators = st.sampled_from(sorted(OPERATORS) + ["regex", "", "eq__eq"])
keys = st.one_of(
    st.builds(lambda p, f, o: f"{p}{f}__{o}", st.sampled_from(PATHS), names, operators),
    st.builds(lambda p, f: f"{p}{f}", st.sampled_from(PATHS), names),
    st.text(max_size=30),
)
sizes = st.one_of(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=-3, max_value=2**65),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 2, 2**63 - 1, "3", "x", 2.5, None, True]),
)


@st.composite
def typed_lookups(draw: Any) -> dict[str, Any]:
    """A valid key with a value of (mostly) the field's own type."""
    field = draw(st.sampled_from(FIELDS))
    textual = TYPED[field] is text
    op = draw(st.sampled_from(sorted(OPERATORS if textual else OPERATORS - TEXT_OPERATORS)))
    one = TYPED[field]
    many = op in ("in", "not_in", "between")
    value = draw(st.one_of(st.lists(one, max_size=3), st.tuples(one, one)) if many else one)
    return {f"{draw(st.sampled_from(PATHS))}{field}__{op}": value}


lookups = st.one_of(
    typed_lookups(),
    typed_lookups(),
    st.dictionaries(keys, scalars, min_size=1, max_size=2),
)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


cursors = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.binary(max_size=40).map(_token),
    st.integers(1, 3000).map(lambda depth: _token(b"[" * depth)),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=4).map(
        lambda raw: _token(json.dumps(["x", json.dumps(raw)]).encode())
    ),
)
order_keys = st.one_of(
    st.sampled_from(["id", "-id", "age", "-age", "name", "-name", "kind", "seen_at", "team"]),
    st.sampled_from(["id", "-id", "age", "-age", "name", "-name", "kind", "seen_at", "team"]),
    st.text(max_size=8),
)


@st.composite
def queries(draw: Any) -> tuple[Any, str, dict[str, Any]]:
    """A query built from hostile parts, and a terminal with its arguments."""
    q = Q(Hero)
    for _ in range(draw(st.integers(0, 3))):
        builder = draw(
            st.sampled_from(["where", "where", "exclude", "where_any", "order_by", "only"])
        )
        if builder == "order_by":
            q = q.order_by(*draw(st.lists(order_keys, max_size=2)))
        elif builder == "only":
            q = q.only(*draw(st.lists(st.one_of(st.sampled_from(FIELDS), names), max_size=2)))
        else:
            q = getattr(q, builder)(**draw(lookups))
    if draw(st.booleans()):
        q = q.include(draw(st.sampled_from(["team", "team.members", "team.city", "x"])))
    if draw(st.booleans()):
        q = q.limit(draw(sizes)).offset(draw(sizes))
    terminal = draw(
        st.sampled_from(
            ["all", "count", "exists", "first", "paginate", "keyset", "stream", "update"]
        )
    )
    arguments: dict[str, Any] = {}
    if terminal == "paginate":
        arguments = {"page": draw(sizes), "size": draw(sizes)}
    elif terminal == "keyset":
        arguments = {"size": draw(sizes), "after": draw(cursors)}
    elif terminal == "stream":
        arguments = {"batch_size": draw(sizes)}
    elif terminal == "update":
        field = draw(
            st.sampled_from(["name", "age", "bio", "seen_at", "kind", "rating", "team_id"])
        )
        arguments = {field: draw(st.one_of(TYPED[field], scalars))}
    return q, terminal, arguments


def seed(backend: Any) -> None:
    backend.clean()
    with Session(backend.engine) as session:
        city = City(name="Metro")
        team = Team(name="Team", city=city)
        session.add_all(
            [
                Hero(name="a", age=30, bio="wizard of oz", team=team, kind=HeroKind.alien),
                Hero(name="b", age=None, rating=1.5, born=dt.date(2000, 1, 1), uid=uuid.uuid4()),
                Hero(name="c%_\\", age=-5, seen_at=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)),
            ]
        )
        session.commit()


def run_sync(session: Session, q: Any, terminal: str, arguments: dict[str, Any]) -> Any:
    if terminal == "update":
        return q.update(session, **arguments)
    result = getattr(q, terminal)(session, **arguments)
    return list(result) if terminal == "stream" else result


async def run_async(session: AsyncSession, q: Any, terminal: str, arguments: dict[str, Any]) -> Any:
    if terminal == "stream":
        return [row async for row in q.a_stream(session, **arguments)]
    if terminal == "update":
        return await q.a_update(session, **arguments)
    return await getattr(q, f"a_{terminal}")(session, **arguments)


async def run_async_example(engine: Any, q: Any, terminal: str, arguments: dict[str, Any]) -> None:
    async with AsyncSession(engine) as session:
        try:
            await run_async(session, q, terminal, arguments)
        finally:
            await session.rollback()


PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_q_fails_only_with_library_errors(backend: Any, mode: str) -> None:
    seed(backend)
    loop = asyncio.new_event_loop()
    engine = None
    if mode == "async":
        engine = backend.async_engine(poolclass=NullPool)

    @PROPERTY
    @given(data=st.data())
    def check(data: Any) -> None:
        try:
            q, terminal, arguments = data.draw(queries())
            if engine is None:
                with Session(backend.engine) as session:
                    try:
                        run_sync(session, q, terminal, arguments)
                    finally:
                        session.rollback()
            else:
                loop.run_until_complete(run_async_example(engine, q, terminal, arguments))
        except SQLModelCRUDError:
            pass

    try:
        check()
    finally:
        if engine is not None:
            loop.run_until_complete(engine.dispose())
        loop.close()
