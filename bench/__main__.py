"""`make bench`: every row of the goals table, each a ratio against a baseline measured
beside it in the same run; prints the table and writes bench/results/latest.json.

    uv run python -m bench            # the full run (under 10 minutes on 2 cores)
    uv run python -m bench --quick    # the same rows at a small scale, to check the harness
    uv run python -m bench --only rls_lesson_catalog,cold_plan_drift
    uv run python -m bench --only checkout_create   # the webhook step's checkout rounds only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench import cold_plans, rls, sql_cpu, webhooks
from bench.harness import Row, machine, table, write_results
from devstack import database

Step = Callable[[str, bool], tuple[list[Row], dict[str, Any]]]


def webhook_step(
    admin_url: str, quick: bool, rows: frozenset[str] = frozenset()
) -> tuple[list[Row], dict[str, Any]]:
    with database.throwaway(admin_url) as url:
        return webhooks.run(url, webhooks.QUICK if quick else webhooks.FULL, rows)


STEPS: dict[str, tuple[tuple[str, ...], Step]] = {
    "webhooks": (
        (
            "webhook_ingestion_c8",
            "webhook_ingestion_c32",
            "webhook_duplicates_c32",
            "sidecar_cpu_per_webhook_ms",
            "sidecar_peak_rss_mb",
            "checkout_create",
            "sidecar_cpu_per_checkout_ms",
        ),
        webhook_step,
    ),
    "sql_cpu": (
        ("sql_cpu_per_purchase_ms", "wal_bytes_per_purchase", "wal_bytes_per_duplicate"),
        sql_cpu.step,
    ),
    "cold_plans": (("cold_plan_drift", "cold_plan_drift_analysed"), cold_plans.step),
    "rls": (("rls_lesson_catalog", "rls_purchase_history"), rls.step),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small scale: checks the harness")
    parser.add_argument("--only", default="", help="comma-separated row or step names")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    admin_url = os.environ.get("TEST_DATABASE_URL", database.DEFAULT_ADMIN_URL)
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("show server_version").fetchone()
    info = machine(str(row[0]) if row else "?")
    info["scale"] = "quick" if args.quick else "full"
    print(
        f"machine: {info['processor']}, {info['cpus']} cpus, Python {info['python']},"
        f" Postgres {info['postgres']}, load {info['load_average_at_start']}"
    )
    print("each row: the measured side and its baseline alternate in rounds; ratios count\n")
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    started = time.monotonic()
    for step_name, (names, step) in STEPS.items():
        if wanted and step_name not in wanted and not wanted & set(names):
            continue
        step_started = time.monotonic()
        print(f"[{step_name}] …", flush=True)
        if step_name == "webhooks":  # its webhook and checkout rounds can run apart
            rows_asked = frozenset() if step_name in wanted else frozenset(wanted & set(names))
            step_rows, step_extra = webhook_step(admin_url, args.quick, rows_asked)
        else:
            step_rows, step_extra = step(admin_url, args.quick)
        rows.extend(step_rows)
        extra[step_name] = step_extra
        print(f"[{step_name}] {time.monotonic() - step_started:.0f} s", flush=True)
        print(table(step_rows), end="\n\n", flush=True)
    info["seconds"] = round(time.monotonic() - started)
    path = write_results(info, rows, {"detail": extra})
    print(table(rows))
    print(f"\n{len(rows)} rows in {info['seconds']} s; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
