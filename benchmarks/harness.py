"""Measurement core: interleaved, shuffled rounds and paired ratios.

`Context.compare` times every variant of one comparison in the same run:
each round runs one batch of calls per variant, in a freshly
shuffled order, with ``gc.collect()`` before each batch. A checked ratio is
the median over rounds of ``subject / baseline`` measured in that round, so
drift in machine load (other processes, CPU frequency) hits both sides of
each pair alike. Sync and async variants go through the same loop (the whole
run happens inside one event loop; a sync variant is simply not awaited).
"""

from __future__ import annotations

import gc
import inspect
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["Check", "Config", "Context", "Result"]

Variant = Callable[[], Any]

CLOCKS = ("wall", "cpu")


@dataclass(frozen=True)
class Config:
    """Sizes and repetition counts of one run (see ``python -m benchmarks --help``)."""

    rows: int = 100_000
    rounds: int = 30
    stream_rounds: int = 7
    bulk_rows: int = 50_000
    bulk_rounds: int = 3
    batch_seconds: float = 0.05
    deep_fraction: float = 0.9
    clock: str = "auto"
    quick: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Check:
    """A target on the median paired ratio ``subject / baseline``.

    ``op`` is ``"<="`` or ``">="``; ``note`` is shown beside the target
    (e.g. "≥ 4x faster"); ``noisy`` marks ratios known to swing between runs
    (a row is also marked when its rounds spread widely, see `NOISY_SPREAD`).
    """

    subject: str
    baseline: str
    limit: float
    op: str = "<="
    note: str = ""
    noisy: bool = False


@dataclass
class Result:
    """One row of the report."""

    backend: str
    target: str
    case: str
    metric: str  # "time ratio", "peak MiB", "statements"
    subject: str
    baseline: str | None
    value: float
    op: str
    limit: float
    passed: bool
    noisy: bool = False
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def meets(value: float, op: str, limit: float) -> bool:
    """Whether ``value op limit`` holds (``op`` in ``<=``, ``>=``, ``==``)."""
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    if op == "==":
        return value == limit
    raise ValueError(f"unknown comparison {op!r}")


async def _call(function: Callable[[], Any]) -> Any:
    outcome = function()
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


def resolve_clock(clock: str, backend: str) -> str:
    """The clock a backend's ratios are checked on: ``auto`` means CPU time for
    SQLite and wall time for a database server.

    Wall time (``perf_counter``) is what a caller waits, server included, and
    swings with machine load. CPU time (``process_time``, every thread of this
    process, aiosqlite's worker too) is the whole cost of an in-process
    database and does not count time other processes hold the CPU; for a
    server it would leave out the server's work. Both ratios are kept in the
    JSON details (``wall_ratio``, ``cpu_ratio``).
    """
    if clock == "auto":
        return "cpu" if backend == "sqlite" else "wall"
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose auto, wall or cpu")
    return clock


async def _batch(function: Variant, number: int) -> dict[str, float]:
    """Seconds taken by ``number`` calls of ``function`` (awaited when async), per clock."""
    if inspect.iscoroutinefunction(function):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            await function()
    else:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            function()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


#: Interquartile range of the round ratios, relative to their median, above
#: which a row is marked noisy.
NOISY_SPREAD = 0.15


def spread(ratios: Sequence[float]) -> float:
    """Interquartile range of ``ratios`` relative to their median."""
    if len(ratios) < 4:
        return 0.0
    low, _, high = statistics.quantiles(ratios, n=4)
    return (high - low) / statistics.median(ratios)


def _paired(subject: list[float], baseline: list[float]) -> list[float]:
    return [s / b for s, b in zip(subject, baseline, strict=True)]


@dataclass
class Context:
    """What a case function gets: one backend's engines, the run's config,
    and `compare` / `record` to add rows to the report."""

    backend: str
    engine: Engine
    async_engine: AsyncEngine
    config: Config
    target: str = ""
    results: list[Result] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def clock(self) -> str:
        """The clock timed comparisons use on this backend (see `resolve_clock`)."""
        return resolve_clock(self.config.clock, self.backend)

    def record(
        self,
        case: str,
        metric: str,
        subject: str,
        value: float,
        op: str,
        limit: float,
        *,
        baseline: str | None = None,
        note: str = "",
        noisy: bool = False,
        **detail: Any,
    ) -> Result:
        """Add a row checked directly (memory, statement counts, ...)."""
        result = Result(
            self.backend,
            self.target,
            case,
            metric,
            subject,
            baseline,
            value,
            op,
            limit,
            meets(value, op, limit),
            noisy,
            note,
            detail,
        )
        self.results.append(result)
        _progress(result)
        return result

    async def compare(
        self,
        case: str,
        variants: dict[str, Variant],
        checks: Sequence[Check],
        *,
        number: int | None = None,
        rounds: int | None = None,
        setup: Callable[[], Awaitable[Any] | Any] | None = None,
        items: int | None = None,
        clock: str | None = None,
        warmup: bool = True,
    ) -> list[Result]:
        """Time ``variants`` interleaved and add one row per check.

        ``number`` calls per batch (default: calibrated per variant so each
        batch takes about ``config.batch_seconds``); ``setup`` runs
        untimed before every batch (e.g. to reset a table for write cases);
        ``items`` (rows handled per call) adds rows/second to the details;
        ``clock`` overrides the backend's clock (``"cpu"`` for pure-Python work);
        ``warmup=False`` skips the untimed first call of each variant (for
        calls that take seconds and warm themselves up on their first batch).
        """
        names = list(variants)
        for check in checks:
            missing = {check.subject, check.baseline} - set(names)
            if missing:
                raise ValueError(f"{case}: check names unknown variants {sorted(missing)}")
        for name in names if warmup else ():  # imports, compiled-statement cache, pool
            if setup is not None:
                await _call(setup)
            await _batch(variants[name], 1)
        numbers = {
            name: number or await self._calibrate(function, setup)
            for name, function in variants.items()
        }
        rounds = rounds or self.config.rounds
        clock = clock or self.clock
        per_call: dict[str, dict[str, list[float]]] = {
            name: {"wall": [], "cpu": []} for name in names
        }
        for _ in range(rounds):
            order = names[:]
            self.rng.shuffle(order)
            for name in order:
                if setup is not None:
                    await _call(setup)
                gc.collect()
                for which, seconds in (await _batch(variants[name], numbers[name])).items():
                    per_call[name][which].append(seconds / numbers[name])
        medians = {name: statistics.median(times[clock]) for name, times in per_call.items()}
        added: list[Result] = []
        for check in checks:
            subject, baseline = per_call[check.subject], per_call[check.baseline]
            ratios = _paired(subject[clock], baseline[clock])
            detail: dict[str, Any] = {
                "subject_median_us": medians[check.subject] * 1e6,
                "baseline_median_us": medians[check.baseline] * 1e6,
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "ratio_spread": spread(ratios),
                "rounds": rounds,
                "number": numbers[check.subject],
                "baseline_number": numbers[check.baseline],
                "clock": clock,
                "wall_ratio": statistics.median(_paired(subject["wall"], baseline["wall"])),
                "cpu_ratio": statistics.median(_paired(subject["cpu"], baseline["cpu"])),
            }
            if items:
                detail["subject_rows_per_s"] = items / medians[check.subject]
                detail["baseline_rows_per_s"] = items / medians[check.baseline]
            added.append(
                self.record(
                    case,
                    "time ratio",
                    check.subject,
                    statistics.median(ratios),
                    check.op,
                    check.limit,
                    baseline=check.baseline,
                    note=check.note,
                    noisy=check.noisy or spread(ratios) > NOISY_SPREAD,
                    **detail,
                )
            )
        return added

    async def _calibrate(self, function: Variant, setup: Callable[[], Any] | None) -> int:
        """Calls per batch so one batch takes about ``config.batch_seconds``
        (the fastest of three probes, so a probe slowed by other processes
        does not shrink the batches)."""
        if setup is not None:  # batches that need a reset are single calls
            return 1
        per_call = []
        for _ in range(3):
            calls = 1
            while True:
                elapsed = (await _batch(function, calls))["wall"]
                if elapsed >= 0.01 or calls >= 65536:
                    break
                calls *= 4
            per_call.append(elapsed / calls)
        return max(1, round(self.config.batch_seconds / min(per_call)))


def _progress(result: Result) -> None:
    print(
        f"  {result.backend:<10} {result.target:>2} {result.case}: {result.subject} "
        f"= {result.value:.3g} ({result.op} {result.limit:g}) {result.status}",
        file=sys.stderr,
        flush=True,
    )
