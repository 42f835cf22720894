"""Timing helpers, the result record every benchmark returns, and the table and JSON of the results."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class BenchResult:
    """One benchmark: its measured value, the baseline measured in the same run, and its goal."""

    name: str
    unit: str
    measured: float
    baseline: float
    goal: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("inf")

    def to_json(self) -> dict[str, Any]:
        """Return the result as the JSON object the results files store, ratio included."""
        return {
            "name": self.name,
            "unit": self.unit,
            "measured": self.measured,
            "baseline": self.baseline,
            "ratio": round(self.ratio, 3),
            "goal": self.goal,
            "passed": self.passed,
            "details": self.details,
        }


def median_seconds(action: Callable[[], object], *, repeat: int) -> tuple[float, list[float]]:
    """Run ``action`` ``repeat`` times; return the median and every duration, in seconds."""
    durations: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), durations


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` 0.5 for p50, 0.99 for p99)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def time_each(
    action: Callable[[T], R], items: Sequence[T], *, warmup: int, budget_s: float = math.inf
) -> tuple[list[float], list[R]]:
    """Run ``action`` untimed on the first ``warmup`` items, then timed on every item.

    Return the seconds and the result of each timed run. Timed runs stop once ``budget_s``
    seconds have passed since the first run, warmup included.
    """
    loop_started = time.monotonic()
    for item in items[:warmup]:
        action(item)
    durations: list[float] = []
    results: list[R] = []
    for item in items:
        if time.monotonic() - loop_started > budget_s:
            break
        started = time.perf_counter()
        results.append(action(item))
        durations.append(time.perf_counter() - started)
    return durations, results


def table(results: list[BenchResult]) -> str:
    """Format the results as a plain-text table, durations in milliseconds."""
    header = f"{'benchmark':<54} {'measured':>14} {'baseline':>14} {'ratio':>7}  {'goal':<36} result"
    lines = [header, "-" * len(header)]
    for result in results:
        measured, baseline = _format(result.measured, result.unit), _format(result.baseline, result.unit)
        verdict = "PASS" if result.passed else "FAIL"
        ratio = f"{result.ratio:.2f}"
        lines.append(
            f"{result.name:<54} {measured:>14} {baseline:>14} {ratio:>7}  {result.goal:<36} {verdict}"
        )
    return "\n".join(lines)


def _format(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:,.2f} ms"
    return f"{value:,.0f} {unit}"
