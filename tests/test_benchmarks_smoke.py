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
