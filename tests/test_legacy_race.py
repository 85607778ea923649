"""get_one_or_create survives a race between two transactions (PostgreSQL, MariaDB)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from sqlmodel_crud_utils import clear_hooks, get_one_or_create, register_hook
from tests.models_legacy import LegacyTag


@pytest.fixture(autouse=True)
def _no_hooks():
    clear_hooks()
    yield
    clear_hooks()


def test_loser_of_a_create_race_returns_the_winners_row(backend):
    if backend.name == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs a server database")
    backend.clean()
    both_looked = threading.Barrier(2, timeout=20)

    class WaitForTheOther:
        def before_create(self, instance):
            both_looked.wait()  # both transactions have seen "no row" by now

    register_hook(LegacyTag, WaitForTheOther())
    results: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def create(note: str) -> None:
        try:
            with Session(backend.engine) as session:
                row, existed = get_one_or_create(
                    session, LegacyTag, {"note": note}, raise_on_error=True, name="race"
                )
                results.append((row.id, existed))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(note,)) for note in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(existed for _, existed in results) == [False, True]
    assert len({row_id for row_id, _ in results}) == 1
    with Session(backend.engine) as session:
        rows = list(session.exec(select(LegacyTag)).all())
    assert [row.name for row in rows] == ["race"]
    assert rows[0].id == results[0][0]
