"""`uv run sidecar` with SIDECAR_WORKERS: how many processes serve the port."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from bench.procs import worker_pids
from sidecar.cli import worker_count
from tests.reliability.storm import Sidecar
from tests.sidecar.conftest import LESSON_JOINS, checkout_session, event, new_learner, signed


def test_workers_default_to_the_cores_this_process_may_use() -> None:
    assert worker_count(None) == len(os.sched_getaffinity(0))
    assert worker_count("") == len(os.sched_getaffinity(0))
    assert worker_count("3") == 3


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_workers_must_be_a_whole_number_of_processes(raw: str) -> None:
    with pytest.raises(ValueError, match="SIDECAR_WORKERS"):
        worker_count(raw)


def test_two_workers_serve_one_port_and_record_purchases(database_url: str, tmp_path: Path) -> None:
    sidecar = Sidecar(database_url, tmp_path, SIDECAR_WORKERS="2", DATABASE_POOL_MAX="2")
    sidecar.start()
    try:
        assert sidecar.process is not None
        assert len(worker_pids(sidecar.process.pid)) == 2
        outcomes = []
        with httpx.Client(base_url=sidecar.base) as client:
            for _ in range(4):
                learner = new_learner(database_url)
                paid = event(
                    "checkout.session.completed",
                    checkout_session(user_id=learner, lesson_id=LESSON_JOINS),
                )
                payload, headers = signed(paid)
                response = client.post("/v1/webhooks/stripe", content=payload, headers=headers)
                outcomes.append(response.json()["outcome"])
        assert outcomes == ["recorded"] * 4
    finally:
        sidecar.stop()
