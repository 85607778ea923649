"""Command line, run loop and report (table on stdout, JSON file)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from . import (  # noqa: F401 - cases 10-16
    cases_fastapi,
    cases_history,
    cases_projections,
    cases_scaling,
    cases_tenants,
)
from .backends import KNOWN, Unreachable, open_backend
from .cases import CASES
from .harness import Config, Context, Result

__all__ = ["main", "run"]

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "latest.json"
QUICK = {
    "rows": 2_000,
    "rounds": 3,
    "stream_rounds": 2,
    "bulk_rows": 500,
    "bulk_rounds": 2,
    "batch_seconds": 0.01,
}


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time sqlmodel-crud-utils against hand-written SQLAlchemy "
        "(paired ratios, measured in the same run).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=bool(env("BENCH_QUICK")),
        help=f"smoke run with small sizes ({QUICK}); env BENCH_QUICK=1",
    )
    parser.add_argument(
        "--rows", type=int, default=None, help="heroes in the table (100000; env BENCH_ROWS)"
    )
    parser.add_argument(
        "--bulk-rows",
        type=int,
        default=None,
        help="rows per bulk write, targets 6 and 7 (50000; env BENCH_BULK_ROWS)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds per comparison (30; env BENCH_ROUNDS)",
    )
    parser.add_argument(
        "--backends",
        default=env("BENCH_DATABASES", ",".join(KNOWN)),
        help="comma-separated subset of sqlite,postgresql (env BENCH_DATABASES); "
        "an unreachable PostgreSQL is skipped with a note",
    )
    parser.add_argument(
        "--only", default=env("BENCH_ONLY", ""), help="comma-separated targets, e.g. 1,4"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(env("BENCH_OUTPUT", str(DEFAULT_OUTPUT))),
        help="JSON report path",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--clock",
        choices=("auto", "wall", "cpu"),
        default=env("BENCH_CLOCK", "auto"),
        help="auto (default): CPU time on SQLite, wall time on PostgreSQL; env BENCH_CLOCK",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the variant shuffling")
    return parser


def config_from(args: argparse.Namespace) -> Config:
    base = dict(QUICK) if args.quick else {}
    rows = args.rows or os.environ.get("BENCH_ROWS")
    rounds = args.rounds or os.environ.get("BENCH_ROUNDS")
    bulk_rows = args.bulk_rows or os.environ.get("BENCH_BULK_ROWS")
    if rows:
        base["rows"] = int(rows)
    if bulk_rows:
        base["bulk_rows"] = int(bulk_rows)
    if rounds:
        base["rounds"] = int(rounds)
    return Config(quick=args.quick, seed=args.seed, clock=args.clock, **base)


async def run(
    config: Config, backends: Sequence[str], only: Sequence[str] = ()
) -> tuple[list[Result], list[dict[str, str]]]:
    """Run every registered case on each backend; return rows and skip notes."""
    results: list[Result] = []
    skipped: list[dict[str, str]] = []
    for name in backends:
        print(f"{name}: seeding {config.rows:,} rows ...", file=sys.stderr, flush=True)
        try:
            async with open_backend(name, config.rows) as backend:
                for target, _title, function in CASES:
                    if only and target not in only:
                        continue
                    ctx = Context(
                        name,
                        backend.engine,
                        backend.async_engine,
                        config,
                        target=target,
                        rng=random.Random(config.seed),
                    )
                    await function(ctx)
                    results.extend(ctx.results)
        except Unreachable as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
            skipped.append({"backend": name, "reason": str(exc)})
    return results, skipped


def machine() -> dict[str, Any]:
    """Where and with what the run happened."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlalchemy": version("sqlalchemy"),
        "sqlmodel": version("sqlmodel"),
        "sqlmodel_crud_utils": version("sqlmodel-crud-utils"),
    }


def _value(result: Result) -> str:
    if result.metric == "statements":
        return str(int(result.value))
    if result.metric == "peak MiB":
        return f"{result.value:.2f} MiB"
    return f"{result.value:.3f}"


def _limit(result: Result) -> str:
    text = f"{result.op} {result.limit:g}"
    if result.metric == "peak MiB":
        text += " MiB"
    return f"{text} ({result.note})" if result.note and result.metric == "time ratio" else text


def _times(result: Result) -> str:
    detail = result.detail
    if "subject_median_us" not in detail:
        if "yield_per_loop_peak_mib" in detail:
            return f"yield_per loop: {detail['yield_per_loop_peak_mib']:.2f} MiB"
        return ""
    text = f"{_us(detail['subject_median_us'])} / {_us(detail['baseline_median_us'])}"
    text += f" {detail['clock']}"
    if "subject_rows_per_s" in detail:
        text += f", {detail['subject_rows_per_s']:,.0f} rows/s"
    return text


def _us(micros: float) -> str:
    if micros >= 10_000:
        return f"{micros / 1000:.0f} ms"
    if micros >= 1000:
        return f"{micros / 1000:.2f} ms"
    return f"{micros:.1f} µs"


def table(results: Sequence[Result]) -> str:
    """The report as a Markdown table (``*`` marks noisy ratios)."""
    header = ("backend", "#", "case", "subject vs baseline", "value", "target", "result", "medians")
    rows = [header]
    for r in results:
        versus = f"{r.subject} vs {r.baseline}" if r.baseline else r.subject
        noisy = " *" if r.noisy else ""
        rows.append(
            (r.backend, r.target, r.case, versus, _value(r) + noisy, _limit(r), r.status, _times(r))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def write_json(
    path: Path, config: Config, results: Sequence[Result], skipped: Sequence[dict[str, str]]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": machine(),
        "config": asdict(config),
        "results": [r.as_json() for r in results],
        "skipped": list(skipped),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks`` (``make bench``)."""
    args = _parser().parse_args(argv)
    config = config_from(args)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(KNOWN))
    if unknown:
        raise SystemExit(f"unknown backends {unknown}; known: {', '.join(KNOWN)}")
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    results, skipped = asyncio.run(run(config, backends, only))
    print(table(results))
    for note in skipped:
        print(f"\n{note['backend']}: skipped ({note['reason']})")
    if any(r.noisy for r in results):
        print(
            "\n* noisy: known to swing between runs on a shared machine (async), or the "
            "rounds of this run spread widely (interquartile range > 15% of the median)"
        )
    write_json(args.output, config, results, skipped)
    print(f"\nJSON report: {args.output}")
    missed = [r for r in results if not r.passed]
    return 1 if args.strict and missed else 0
