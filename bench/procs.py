"""Processes the bench starts (the sidecar as deployed, the Stripe stand-in) and what /proc says
about them: CPU seconds and peak resident memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from standins.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / TICKS


def total_cpu(pids: Iterable[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has held, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def worker_pids(pid: int) -> list[int]:
    """Children started by multiprocessing's spawn (uvicorn's workers), not its resource
    tracker."""
    spawned = []
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                spawned.append(child)
        except FileNotFoundError:
            continue
    return spawned


def backend_pids(url: str, application_name: str) -> list[int]:
    """Postgres backends serving `application_name` (on this machine, so /proc can read them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity"
            " where application_name = %s and datname = current_database()",
            (application_name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the {what} did not answer {url} within {timeout} s")


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]

    @property
    def pids(self) -> list[int]:
        """The process and its workers (uvicorn's supervisor forks one per SIDECAR_WORKERS)."""
        return [self.process.pid, *children(self.process.pid)]

    @property
    def workers(self) -> list[int]:
        """The serving processes: uvicorn's spawned workers, or the process itself."""
        return worker_pids(self.process.pid) or [self.process.pid]


@contextmanager
def running(
    argv: list[str], env: Mapping[str, str], health_path: str, what: str, port: int | None = None
) -> Iterator[Server]:
    """Start `argv` (which serves on `port`), wait until `health_path` answers, stop it after."""
    port = port or free_port()
    with tempfile.TemporaryDirectory() as workdir, open(Path(workdir) / "out.log", "wb") as out:
        process = subprocess.Popen(
            argv,
            # a directory with no .env, so only `env` configures it
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_up(base + health_path, process, what)
            except RuntimeError:
                out.flush()
                print((Path(workdir) / "out.log").read_text()[-3000:], file=sys.stderr)
                raise
            yield Server(base, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sidecar_argv() -> list[str]:
    return [sys.executable, "-m", "sidecar.cli"]


def standin_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "standins.stripe", "--port", str(port)]
