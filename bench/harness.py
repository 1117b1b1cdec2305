"""Side-by-side timing: A and B run in alternating rounds, and each round's ratio is kept.

The machine is shared and noisy, so absolute times drift; a ratio taken round by round,
with A and B interleaved, holds. Reported: the median and spread of per-round ratios and
the per-operation medians behind them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    name: str
    a_label: str
    b_label: str
    a_seconds: list[float]
    b_seconds: list[float]

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_seconds, self.b_seconds, strict=True)]

    def report(self, unit_ops: int) -> str:
        ratios = sorted(self.ratios)
        a_med = statistics.median(self.a_seconds) / unit_ops
        b_med = statistics.median(self.b_seconds) / unit_ops
        return (
            f"{self.name}\n"
            f"  A {self.a_label:<56} {a_med * 1e3:9.3f} ms/op (median of {len(self.a_seconds)})\n"
            f"  B {self.b_label:<56} {b_med * 1e3:9.3f} ms/op\n"
            f"  A/B ratio: median {statistics.median(ratios):.2f}"
            f"  (min {ratios[0]:.2f}, max {ratios[-1]:.2f})"
        )


def compare(
    name: str,
    a_label: str,
    a: Callable[[], None],
    b_label: str,
    b: Callable[[], None],
    rounds: int = 7,
    warmup: int = 1,
) -> Comparison:
    """Run a and b alternately (A B A B …) after a warm-up; time each call."""
    for _ in range(warmup):
        a()
        b()
    a_times, b_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        a()
        a_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        b()
        b_times.append(time.perf_counter() - started)
    return Comparison(name, a_label, b_label, a_times, b_times)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of latency samples, in milliseconds."""
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1e3, p99 * 1e3
