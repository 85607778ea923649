"""Worker for case 0: time a hand-written page read in a fresh process.

Run as a script (``python benchmarks/import_cost.py URL MODE NUMBER
ROUNDS``), never imported by the runner. Modes:

* ``bare``: the process never imports sqlmodel_crud_utils;
* ``imported``: it imports the package and maps a soft-delete and an audit
  model (so the library's session listeners exist) first;
* ``toggled``: as ``imported``, then alternates batches with the library's
  session listeners installed and removed, in one process (one memory
  layout, so the difference is the listeners' own work);
* ``calls-bare`` / ``calls-imported``: Python function calls per read
  (cProfile), which do not depend on timing or memory layout;
* ``count-on`` / ``count-off``: as ``imported``, then (the cyclic
  collector frozen) ``NUMBER`` reads with the library's listeners installed
  or removed; run under ``valgrind --tool=cachegrind`` with ``ROUNDS`` 1
  and 0, the difference is the instructions of the reads alone.

Prints one JSON object: per-call seconds of each batch on both clocks (for
``toggled``, ``on`` and ``off`` each), or ``{"calls": n}``.
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _map_mixin_models() -> None:
    """A soft-delete + audit model and a relationship loading its rows, so
    every listener the library installs on sessions exists."""
    from sqlalchemy.orm import configure_mappers, registry, relationship
    from sqlmodel import Field, Relationship, SQLModel

    from sqlmodel_crud_utils import AuditMixin, SoftDeleteMixin

    class ImportCostBase(SQLModel, registry=registry()):
        pass

    class ImportCostDoc(ImportCostBase, AuditMixin, SoftDeleteMixin, table=True):
        id: int | None = Field(default=None, primary_key=True)
        folder_id: int | None = Field(default=None, foreign_key="importcostfolder.id")

    class ImportCostFolder(ImportCostBase, table=True):
        id: int | None = Field(default=None, primary_key=True)
        # the target given outright: this module's annotations are strings
        docs: list[ImportCostDoc] = Relationship(sa_relationship=relationship(ImportCostDoc))

    configure_mappers()


def _library_listeners() -> list[tuple[str, Any]]:
    """The library's listeners on ``Session``: ``(event name, function)``."""
    from sqlalchemy.orm import Session

    probe = Session()
    found = [
        (name, function)
        for name in ("do_orm_execute", "before_flush", "after_flush", "after_commit")
        for function in getattr(probe.dispatch, name)
        if getattr(function, "__module__", "").startswith("sqlmodel_crud_utils")
    ]
    probe.close()
    return found


def _set_listeners(listeners: list[tuple[str, Any]], installed: bool) -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    for name, function in listeners:
        if event.contains(Session, name, function) != installed:
            (event.listen if installed else event.remove)(Session, name, function)


def _batch(session: Any, read: Any, number: int) -> tuple[float, float]:
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(number):
        session.exec(read()).all()
    return (time.perf_counter() - started_wall) / number, (
        time.process_time() - started_cpu
    ) / number


def main(url: str, mode: str, number: int, rounds: int) -> dict[str, Any]:
    imports = mode in ("imported", "toggled", "calls-imported", "count-on", "count-off")
    if imports:
        _map_mixin_models()
    elif mode not in ("bare", "calls-bare"):
        raise SystemExit(f"unknown mode {mode!r}")
    from sqlmodel import Session, create_engine

    from benchmarks.pages import hand_page

    assert ("sqlmodel_crud_utils" in sys.modules) == imports
    engine = create_engine(url)
    times: dict[str, list[float]] = {}
    with Session(engine) as session:
        for _ in range(number):  # warm: pool, compiled cache
            session.exec(hand_page()).all()
        if mode.startswith("calls-"):
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(number):
                session.exec(hand_page()).all()
            profile.disable()
            calls = sum(row[1] for row in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
            engine.dispose()
            return {"calls": calls / number}
        listeners = _library_listeners()
        if mode.startswith("count-"):
            _set_listeners(listeners, mode == "count-on")
            gc.collect()
            gc.freeze()  # collections would depend on the heap the imports left
            for _ in range(number * rounds):
                session.exec(hand_page()).all()
            engine.dispose()
            return {}
        assert {name for name, _ in listeners} == (
            {"do_orm_execute", "before_flush"} if imports else set()
        ), listeners
        for _ in range(rounds):
            states = [True, False] if mode == "toggled" else [True]
            random.shuffle(states)
            for installed in states:
                suffix = "" if mode != "toggled" else ("_on" if installed else "_off")
                if mode == "toggled":
                    _set_listeners(listeners, installed)
                wall, cpu = _batch(session, hand_page, number)
                times.setdefault("wall" + suffix, []).append(wall)
                times.setdefault("cpu" + suffix, []).append(cpu)
        if mode == "toggled":
            _set_listeners(listeners, True)
    engine.dispose()
    return times


if __name__ == "__main__":
    url, mode, number, rounds = sys.argv[1:5]
    print(json.dumps(main(url, mode, int(number), int(rounds))))
