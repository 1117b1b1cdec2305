"""Rows of `make bench`: a value, the baseline measured beside it in the same run, their ratio.

The machine is shared and noisy, so absolute times drift; a ratio taken round by round, with
the measured side and its baseline interleaved, holds. Each row keeps the median and the
spread (min-max) of its per-round ratios; value and baseline are the medians of each side.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    name: str
    unit: str
    value: float
    baseline: float | None
    ratio: float | None
    # e.g. ">= 0.6" (on the ratio) or "<= 1.0 ms" (on the value); "report" when none is set
    goal: str
    met: bool | None
    ratio_min: float | None = None
    ratio_max: float | None = None
    rounds: int = 0
    value_label: str = ""
    baseline_label: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def spread(ratios: list[float]) -> tuple[float, float, float]:
    """Median, min and max of per-round ratios."""
    ordered = sorted(ratios)
    return statistics.median(ordered), ordered[0], ordered[-1]


def ratio_row(
    name: str,
    unit: str,
    values: list[float],
    baselines: list[float],
    *,
    goal: str,
    at_least: float | None = None,
    at_most: float | None = None,
    value_label: str = "",
    baseline_label: str = "",
    detail: dict[str, Any] | None = None,
) -> Row:
    """A row whose goal is on the ratio value/baseline, taken round by round."""
    ratios = [v / b for v, b in zip(values, baselines, strict=True)]
    median, low, high = spread(ratios)
    met: bool | None = None
    if at_least is not None:
        met = median >= at_least
    if at_most is not None:
        met = median <= at_most
    return Row(
        name,
        unit,
        round(statistics.median(values), 3),
        round(statistics.median(baselines), 3),
        round(median, 3),
        goal,
        met,
        round(low, 3),
        round(high, 3),
        len(ratios),
        value_label,
        baseline_label,
        detail or {},
    )


def alternate(
    a: Callable[[], float], b: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """Run a and b alternately (A B, B A, A B, …) after one warm-up pair; keep what each returns.

    The order swaps each round so neither side always runs right after the other's work.
    """
    a()
    b()
    a_values: list[float] = []
    b_values: list[float] = []
    for n in range(rounds):
        if n % 2 == 0:
            a_values.append(a())
            b_values.append(b())
        else:
            b_values.append(b())
            a_values.append(a())
    return a_values, b_values


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of latency samples (seconds), in milliseconds."""
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return round(p50 * 1e3, 2), round(p99 * 1e3, 2)


def machine(postgres_version: str) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "postgres": postgres_version,
        "load_average_at_start": os.getloadavg(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cell(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    header = (
        f"{'row':<28} {'value':>10} {'baseline':>10} {'ratio':>7} {'min-max':>13}"
        f" {'unit':<16} {'goal':<14} met"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        spread_text = (
            f"{row.ratio_min:.2f}-{row.ratio_max:.2f}" if row.ratio_min is not None else ""
        )
        met = {True: "yes", False: "NO", None: "—"}[row.met]
        lines.append(
            f"{row.name:<28} {_cell(row.value):>10} {_cell(row.baseline):>10}"
            f" {_cell(row.ratio):>7} {spread_text:>13} {row.unit:<16} {row.goal:<14} {met}"
        )
    return "\n".join(lines)


def write_results(
    machine_info: dict[str, Any], rows: list[Row], extra: dict[str, Any], path: Path | None = None
) -> Path:
    path = path or RESULTS / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    machine_info = {**machine_info, "load_average_at_end": os.getloadavg()}
    document = {"machine": machine_info, "rows": [asdict(r) for r in rows], **extra}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
