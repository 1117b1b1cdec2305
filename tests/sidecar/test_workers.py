"""`uv run sidecar` with SIDECAR_WORKERS: how many processes serve the port, on which sockets."""

from __future__ import annotations

import os
import pickle
import socket
import sys
import time
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import httpx
import pytest

from bench.procs import worker_pids
from sidecar.cli import worker_count
from sidecar.server import per_worker_socket, reuse_port_available
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


# --- one listening socket per worker (SO_REUSEPORT) -------------------------------------------


def test_reuse_port_is_available_on_linux() -> None:
    # the platform this project deploys to; elsewhere the workers share one socket
    assert reuse_port_available() == (sys.platform == "linux")


@pytest.mark.skipif(not reuse_port_available(), reason="the platform has no SO_REUSEPORT")
def test_each_worker_gets_its_own_socket_on_the_supervisors_address() -> None:
    supervisor = per_worker_socket("127.0.0.1", 0)
    # as multiprocessing hands it to each worker it spawns
    workers = [pickle.loads(ForkingPickler.dumps(supervisor)) for _ in range(2)]  # noqa: S301
    try:
        port = supervisor.getsockname()[1]
        assert supervisor.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        # bound, never listening: the kernel hands the supervisor no connection
        assert supervisor.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        for sock in workers:
            assert type(sock) is socket.socket
            assert sock.fileno() != supervisor.fileno()
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.listen()  # both at once: one port, two accept queues
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        for sock in (supervisor, *workers):
            sock.close()


@pytest.mark.skipif(not reuse_port_available(), reason="the platform has no SO_REUSEPORT")
def test_a_port_another_process_listens_on_is_refused_even_with_reuse_port() -> None:
    # a leftover worker of an earlier sidecar listens with SO_REUSEPORT: sharing its port
    # would silently split the connections between the two
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(OSError, match="in use"):
            per_worker_socket("127.0.0.1", other.getsockname()[1])


def _tcp_sockets(port: int) -> list[tuple[str, int, int]]:
    """(state, remote port, inode) of every IPv4 TCP socket whose local port is `port`."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port:
            found.append((state, int(remote.split(":")[1], 16), inode))
    return found


def _socket_owners(pids: list[int]) -> dict[int, int]:
    """inode → pid for the sockets these processes hold open."""
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[8:-1])] = pid
    return owners


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")
def test_two_workers_listen_on_their_own_sockets_and_both_answer(
    database_url: str, tmp_path: Path
) -> None:
    sidecar = Sidecar(database_url, tmp_path, SIDECAR_WORKERS="2", DATABASE_POOL_MAX="2")
    sidecar.start()
    clients: list[socket.socket] = []
    try:
        assert sidecar.process is not None
        workers = worker_pids(sidecar.process.pid)
        assert len(workers) == 2
        # /healthz answered once the first worker listened; the second may still be starting
        deadline = time.monotonic() + 60
        while True:
            listening = [inode for state, _, inode in _tcp_sockets(sidecar.port) if state == "0A"]
            if len(listening) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        owners = _socket_owners([sidecar.process.pid, *workers])
        # one listening socket each; the supervisor's own socket is bound but not listening
        assert sorted(owners[inode] for inode in listening) == sorted(workers)

        # connections spread over the two queues (by the kernel's hash of the four-tuple):
        # with 16 of them, both workers take some unless 1 in 2^15
        clients = [socket.create_connection(("127.0.0.1", sidecar.port)) for _ in range(16)]
        accepted: dict[int, int] = {}
        deadline = time.monotonic() + 10
        while len(accepted) < len(clients) and time.monotonic() < deadline:
            owners = _socket_owners(workers)
            by_remote = {remote: inode for state, remote, inode in _tcp_sockets(sidecar.port)}
            for client in clients:
                inode = by_remote.get(client.getsockname()[1])
                if inode in owners:
                    accepted[client.getsockname()[1]] = owners[inode]
            time.sleep(0.05)
        assert len(accepted) == len(clients)
        assert set(accepted.values()) == set(workers)

        # and each answers on the connection it took
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    finally:
        for client in clients:
            client.close()
        sidecar.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")
def test_sidecar_reuse_port_0_keeps_one_socket_shared_by_the_workers(
    database_url: str, tmp_path: Path
) -> None:
    sidecar = Sidecar(
        database_url, tmp_path, SIDECAR_WORKERS="2", DATABASE_POOL_MAX="2", SIDECAR_REUSE_PORT="0"
    )
    sidecar.start()
    try:
        assert sidecar.process is not None
        workers = worker_pids(sidecar.process.pid)
        listening = [inode for state, _, inode in _tcp_sockets(sidecar.port) if state == "0A"]
        assert len(listening) == 1
        for pid in workers:  # the supervisor's one socket, inherited by each worker
            assert listening[0] in _socket_owners([pid])
        assert httpx.get(f"{sidecar.base}/healthz").status_code == 200
    finally:
        sidecar.stop()
