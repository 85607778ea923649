"""Hostile or mistaken input raises QueryError, never SQL text or a bare
AttributeError/KeyError, and leaves the session usable."""

from __future__ import annotations

import pytest

from sqlmodel_crud_utils import Q, QueryError, ValidationError
from tests.models import Hero, Team

# Any warning at all (SQLAlchemy, drivers, our code) fails these tests.
pytestmark = pytest.mark.filterwarnings("error")

HERO_FIELDS = (
    "age, alarm, bio, born, id, is_active, kind, name, rating, secret_name, seen_at, team_id, uid"
)

BAD_KEYS = [
    "nope",
    "__class__",
    "metadata",
    "model_config",
    "_sa_instance_state",
    "model_validate",
    "model_dump",
    "team",
    "registry",
    "__table__",
    "1; DROP TABLE hero",
    "name; DROP TABLE hero",
    "age__nope",
    "age__gt__lt",
    "team__nope",
    "team__metadata",
    "nope__name",
    "team__city__nope",
    "team____name",
    "",
    "__",
    "name__",
    "age__icontains",
]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("builder", ["where", "where_any", "exclude"])
def test_bad_lookup_keys_raise_query_error(builder, key):
    with pytest.raises(QueryError) as info:
        getattr(Q(Hero), builder)(**{key: "x"})
    error = info.value
    assert isinstance(error, ValidationError)
    assert error.key == key
    assert error.model is not None
    assert error.model.__name__ in str(error)
    assert "SELECT" not in str(error)


@pytest.mark.parametrize("key", ["nope", "__class__", "metadata", "1; DROP TABLE hero"])
def test_unknown_field_message_names_model_key_and_valid_fields(key):
    with pytest.raises(QueryError) as info:
        Q(Hero).where(**{key: 1})
    message = str(info.value)
    assert message.startswith("Hero: ")
    assert repr(key) in message or key in message
    assert HERO_FIELDS in message


def test_unknown_operator_message_lists_operators():
    with pytest.raises(QueryError, match=r"unknown operator 'nope'.*icontains") as info:
        Q(Hero).where(age__nope=1)
    assert info.value.model is Hero


def test_unknown_relationship_names_valid_relationships():
    with pytest.raises(QueryError, match="relationships of Team: city, members"):
        Q(Hero).where(team__nope__name="x")


@pytest.mark.parametrize(
    "call",
    [
        lambda: Q(Hero).order_by("nope"),
        lambda: Q(Hero).order_by("-__class__"),
        lambda: Q(Hero).order_by("metadata"),
        lambda: Q(Hero).order_by("1; DROP TABLE hero"),
        lambda: Q(Hero).order_by(42),
        lambda: Q(Hero).order_by("name", None),
        lambda: Q(Hero).only("nope"),
        lambda: Q(Hero).only("team"),
        lambda: Q(Hero).only("_sa_instance_state"),
        lambda: Q(Hero).include("nope"),
        lambda: Q(Hero).include("team.nope"),
        lambda: Q(Hero).include("team..members"),
        lambda: Q(Hero).include("name"),
        lambda: Q(Hero).include("__class__"),
        lambda: Q(Hero).include("team", strategy="eager"),
        lambda: Q(Hero).soft("all"),
        lambda: Q(Hero).soft(None),
        lambda: Q(Hero).page(0),
        lambda: Q(Hero).page(-1),
        lambda: Q(Hero).page("x"),
        lambda: Q(Hero).page(1, size=0),
        lambda: Q(Hero).page(True),
        lambda: Q(Hero).limit(-1),
        lambda: Q(Hero).limit("abc"),
        lambda: Q(Hero).limit(1.5),
        lambda: Q(Hero).offset(-5),
        lambda: Q(Hero).offset(10**30),
        lambda: Q(Hero).limit(2**64),
        lambda: Q(Hero).page(10**12, size=10**9),
        lambda: Q(Hero).offset("1; DROP"),
        lambda: Q(Hero).where("1=1"),
        lambda: Q(Hero).where(object()),
        lambda: Q(Hero).where(None),
        lambda: Q(Hero).where(5),
        lambda: Q(Hero).where(age__gt="abc"),
        lambda: Q(Hero).where(age__in="123"),
        lambda: Q(Hero).where(age__in=5),
        lambda: Q(Hero).where(age__between=(1, 2, 3)),
        lambda: Q(Hero).where(age__between=5),
        lambda: Q(Hero).where(age__isnull="perhaps"),
        lambda: Q(Hero).where(name__contains=5),
        lambda: Q(Hero).sql("oracle"),
    ],
)
def test_bad_builder_input_raises_query_error(call):
    with pytest.raises(QueryError) as info:
        call()
    assert info.value.model is Hero or info.value.model is Team
    assert str(info.value).startswith(("Hero: ", "Team: "))


async def test_hostile_terminal_arguments_raise_query_error(db):
    q = Q(Hero)
    for terminal, args in [
        ("paginate", (0, 10)),
        ("paginate", (1, 0)),
        ("paginate", ("x", 10)),
        ("paginate", (10**18, 10**6)),
        ("keyset", (2**70,)),
        ("keyset", (0,)),
        ("keyset", (10, "not-a-cursor")),
        ("get", ("abc",)),
        ("get", ((1, 2),)),
        ("update", ()),
    ]:
        with pytest.raises(QueryError):
            await db.run(q, terminal, *args)
    with pytest.raises(QueryError):
        await db.run(q, "update", nope=1)
    with pytest.raises(QueryError):
        await db.run(q, "update", __class__=1)
    with pytest.raises(QueryError):
        await db.run(q.limit(2), "delete", hard=True)
    if db.mode == "sync":
        with pytest.raises(QueryError):
            q.stream(db.session, batch_size=0)
    else:
        with pytest.raises(QueryError):
            async for _ in q.a_stream(db.async_session, batch_size=0):
                pass


async def test_sql_injection_values_match_nothing_and_table_survives(db):
    db.seed(Hero(name="Deadpond"), Hero(name="Rusty-Man"))
    hostile = "x' OR 1=1 --"
    assert await db.run(Q(Hero).where(name=hostile), "all") == []
    assert await db.run(Q(Hero).where(name__icontains=hostile), "count") == 0
    assert await db.run(Q(Hero).where(name__in=[hostile, "'; DROP TABLE hero; --"]), "all") == []
    assert await db.run(Q(Hero).where(bio__match=hostile), "all") == []
    assert await db.run(Q(Hero).where(name="1; DROP TABLE hero"), "exists") is False
    with pytest.raises(QueryError):
        Q(Hero).where(**{"1; DROP TABLE hero": 1})
    assert await db.run(Q(Hero), "count") == 2


async def test_session_stays_usable_after_query_errors(db):
    db.seed(Hero(name="a"))
    with pytest.raises(QueryError):
        await db.run(Q(Hero), "get", "not-an-int")
    with pytest.raises(QueryError):
        await db.run(Q(Hero), "keyset", 5, "forged")
    assert [h.name for h in await db.run(Q(Hero), "all")] == ["a"]


@pytest.mark.parametrize(
    ("lookups", "key"),
    [
        ({"age": "99999999999999999999"}, "age"),
        ({"age__gt": 2**31}, "age__gt"),
        ({"age__in": [1, -(2**31) - 1]}, "age__in"),
        ({"age__between": (0, 2**40)}, "age__between"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name__icontains": "a\x00"}, "name__icontains"),
    ],
)
async def test_values_no_backend_can_store_raise_query_error(db, lookups, key):
    """Out-of-range integers and NUL characters would be driver errors (a 500
    in a web app) on some backends; they are refused up front on all."""
    db.seed(Hero(name="a", age=1))
    with pytest.raises(QueryError) as info:
        Q(Hero).where(**lookups)
    assert info.value.key == key
    assert str(info.value).startswith("Hero: ")
    assert await db.run(Q(Hero).where(age=2**31 - 1), "count") == 0
    with pytest.raises(QueryError):
        await db.run(Q(Hero), "update", age=2**31)
    assert [h.age for h in await db.run(Q(Hero), "all")] == [1]


async def test_forged_cursor_error_names_the_model(db):
    with pytest.raises(QueryError) as info:
        await db.run(Q(Hero).order_by("name"), "keyset", 5, "forged")
    assert str(info.value).startswith("Hero: invalid or stale cursor")
    assert info.value.model is Hero
    assert info.value.key == "cursor"


@pytest.mark.parametrize(
    ("lookups", "key"),
    [
        ({"id": [1, 2]}, "id"),
        ({"id__gt": {"a": 1}}, "id__gt"),
        ({"id__in": [[1]]}, "id__in"),
        ({"name": 5}, "name"),
        ({"is_active": "maybe"}, "is_active"),
        ({"rating__gt": "nan"}, "rating__gt"),
        ({"rating__lt": float("inf")}, "rating__lt"),
        ({"born": 20240101}, "born"),
    ],
)
async def test_values_of_the_wrong_type_raise_query_error(db, lookups, key):
    """JSON-ish filters (lists, dicts, numbers for text) would be driver
    errors; they are refused with the model and key named."""
    db.seed(Hero(name="a", age=1, rating=2.5))
    with pytest.raises(QueryError) as info:
        Q(Hero).where(**lookups)
    assert info.value.key == key
    assert str(info.value).startswith("Hero: ")
    # what does fit is accepted: any number for a numeric column
    assert await db.run(Q(Hero).where(rating__gt=2, age__lt=1.5), "count") == 1


async def test_in_lists_beyond_the_bind_parameter_limit_raise_query_error(db):
    from sqlmodel_crud_utils.lookups import MAX_IN_VALUES

    with pytest.raises(QueryError, match="at most 30,000 values") as info:
        Q(Hero).where(id__in=range(MAX_IN_VALUES + 1))
    assert info.value.key == "id__in"
    db.seed(Hero(name="a"))
    assert await db.run(Q(Hero).where(id__in=range(MAX_IN_VALUES)), "count") == 1
