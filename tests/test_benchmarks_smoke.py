"""`python -m benchmarks --quick` on SQLite produces a well-formed report.

Shape only: timings are never asserted here (they belong to ``make bench``).
"""

from __future__ import annotations

import json
import math

from benchmarks.cases import CASES
from benchmarks.runner import main


def test_quick_run_prints_a_table_and_writes_json(tmp_path, capsys):
    output = tmp_path / "latest.json"
    status = main(["--quick", "--rows", "400", "--backends", "sqlite", "--output", str(output)])

    assert status == 0
    report = json.loads(output.read_text())
    assert {"date", "nproc", "python", "sqlalchemy", "sqlmodel"} <= set(report["machine"])
    assert report["config"]["quick"] is True
    assert report["config"]["rows"] == 400
    assert report["skipped"] == []

    results = report["results"]
    assert {r["target"] for r in results} == {target for target, _, _ in CASES}
    assert {r["backend"] for r in results} == {"sqlite"}
    for row in results:
        assert row["status"] == ("PASS" if row["passed"] else "MISS")
        assert row["op"] in ("<=", ">=", "==")
        assert math.isfinite(row["value"])
        assert row["value"] > 0
    timed = [r for r in results if r["metric"] == "time ratio"]
    assert len(timed) >= 7
    for row in timed:
        detail = row["detail"]
        assert detail["clock"] == "cpu"
        assert detail["rounds"] in (2, 3)
        assert detail["number"] >= 1
        assert detail["ratio_min"] <= row["value"] <= detail["ratio_max"]
        assert row["baseline"]
        assert row["baseline"] != row["subject"]
    # Statement counts are exact, not timings: they must meet their targets.
    counts = [r for r in results if r["metric"] == "statements"]
    assert counts
    assert all(r["passed"] for r in counts)

    table = capsys.readouterr().out
    assert table.startswith("| backend")
    assert table.count("| sqlite") == len(results)


def test_postgresql_that_cannot_be_reached_is_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_POSTGRESQL_URL", "postgresql://nobody@127.0.0.1:1/none")
    output = tmp_path / "latest.json"
    status = main(["--quick", "--backends", "postgresql", "--output", str(output)])

    assert status == 0
    report = json.loads(output.read_text())
    assert report["results"] == []
    assert [s["backend"] for s in report["skipped"]] == ["postgresql"]
    assert "unreachable" in report["skipped"][0]["reason"]


def test_lookup_keys_are_parsed_once_per_model_and_key(monkeypatch):
    """The benchmarks' builder cost relies on it: a repeated query re-parses nothing."""
    from benchmarks.models import BenchHero
    from sqlmodel_crud_utils import Q, lookups

    calls: list[str] = []
    split = lookups._split_key

    def counting(key: str):
        calls.append(key)
        return split(key)

    monkeypatch.setattr(lookups, "_split_key", counting)
    statements = [
        Q(BenchHero).where(age__lte=age, secret_name__istartswith="s").order_by("-id").statement
        for age in range(3)
    ]

    assert len({str(statement) for statement in statements}) == 1
    assert sorted(calls) == ["age__lte", "secret_name__istartswith"]
