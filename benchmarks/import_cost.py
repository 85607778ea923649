"""Worker for case 0: time a hand-written page read in a fresh process.

Run as a script (``python benchmarks/import_cost.py URL MODE NUMBER
ROUNDS``), never imported by the runner: with ``MODE=bare`` the process
never imports sqlmodel_crud_utils; with ``MODE=imported`` it imports the
package and maps a soft-delete and an audit model (so the library's session
listeners exist) before timing the same read. Prints one JSON object:
per-call seconds of each batch, on both clocks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _map_mixin_models() -> None:
    from sqlalchemy.orm import configure_mappers, registry
    from sqlmodel import Field, SQLModel

    from sqlmodel_crud_utils import AuditMixin, SoftDeleteMixin

    class ImportCostBase(SQLModel, registry=registry()):
        pass

    class ImportCostDoc(ImportCostBase, AuditMixin, SoftDeleteMixin, table=True):
        id: int | None = Field(default=None, primary_key=True)

    configure_mappers()


def main(url: str, mode: str, number: int, rounds: int) -> dict[str, Any]:
    if mode == "imported":
        _map_mixin_models()
    elif mode != "bare":
        raise SystemExit(f"unknown mode {mode!r}")
    from sqlmodel import Session, create_engine

    from benchmarks.pages import hand_page

    assert ("sqlmodel_crud_utils" in sys.modules) == (mode == "imported")
    engine = create_engine(url)
    wall: list[float] = []
    cpu: list[float] = []
    with Session(engine) as session:
        for _ in range(number):  # warm: pool, compiled cache
            session.exec(hand_page()).all()
        for _ in range(rounds):
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(number):
                session.exec(hand_page()).all()
            wall.append((time.perf_counter() - started_wall) / number)
            cpu.append((time.process_time() - started_cpu) / number)
    engine.dispose()
    return {"wall": wall, "cpu": cpu}


if __name__ == "__main__":
    url, mode, number, rounds = sys.argv[1:5]
    print(json.dumps(main(url, mode, int(number), int(rounds))))
