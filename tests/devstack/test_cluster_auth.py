"""`make dev`'s private Postgres lets in only who knows the password in DATABASE_URL.

Every login, over TCP and over its socket, is checked with scram-sha-256: a wrong password,
no password and another user are refused. A cluster an older devstack made with `trust` is
switched over on its next start, and a cluster that knows another password says what to do.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import database
from devstack.cli import private_cluster
from devstack.cluster import ClusterError, PrivateCluster
from standins.serving import free_port


def state_dir() -> Path:
    # under the project (not /tmp, which may be closed to the postgres user the cluster runs as)
    parent = database.ROOT / ".devstack"
    parent.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="test-auth-", dir=parent))


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    if shutil.which("pg_config") is None and not Path("/usr/lib/postgresql").exists():
        pytest.skip("no Postgres server binaries on this machine for the private cluster")
    state = state_dir()
    made = PrivateCluster(state / "postgres", free_port(), "pw-" + secrets.token_urlsafe(12))
    made.start()
    try:
        yield made
    finally:
        made.stop()
        shutil.rmtree(state, ignore_errors=True)


def refused(conninfo: str) -> str:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(conninfo, connect_timeout=10).close()
    return str(caught.value)


def test_the_password_in_database_url_logs_in(cluster: PrivateCluster) -> None:
    with psycopg.connect(cluster.url) as conn:
        row = conn.execute(
            "select rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'postgres'"
        ).fetchone()
    assert row == (True,), "the password is stored as a scram-sha-256 verifier"


@pytest.mark.parametrize("password", ["postgres", "", "wrong", "PW-not-it"])
def test_a_wrong_password_is_refused_over_tcp(cluster: PrivateCluster, password: str) -> None:
    message = refused(
        f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres password='{password}'"
    )
    assert "password authentication failed" in message or "no password supplied" in message


def test_the_socket_asks_for_the_password_too(cluster: PrivateCluster) -> None:
    socket = f"host={cluster.data_dir} port={cluster.port} user=postgres dbname=postgres"
    assert "password" in refused(socket + " password=wrong")
    with psycopg.connect(f"{socket} password='{cluster.password}'") as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_no_rule_trusts_anyone(cluster: PrivateCluster) -> None:
    with psycopg.connect(cluster.url) as conn:
        methods = {str(r[0]) for r in conn.execute("select auth_method from pg_hba_file_rules")}
    assert methods == {"scram-sha-256"}
    assert not cluster.trusts()


def test_a_cluster_that_knows_another_password_says_what_to_do(cluster: PrivateCluster) -> None:
    other = PrivateCluster(cluster.data_dir, cluster.port, "not-the-password")
    with pytest.raises(ClusterError, match="refused the password in DATABASE_URL"):
        other.start()
    assert cluster.running(), "the running cluster is left alone"


def test_a_trust_cluster_from_an_older_devstack_is_switched_to_passwords() -> None:
    state = state_dir()
    old = PrivateCluster(state / "postgres", free_port(), "new-" + secrets.token_urlsafe(8))
    old.data_dir.mkdir(parents=True)
    old._hand_to_postgres_user(state)
    made = old._run("initdb", "-D", str(old.data_dir), "-U", "postgres", "--auth=trust")
    assert made.returncode == 0, made.stderr
    assert old.trusts()
    try:
        old.start()
        assert not old.trusts()
        refused(f"host=127.0.0.1 port={old.port} user=postgres dbname=postgres password=x")
        with psycopg.connect(old.url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        old.stop()
        shutil.rmtree(state, ignore_errors=True)


def test_make_dev_takes_the_password_from_database_url(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres:s%40cret@127.0.0.1:54322/postgres",
        "DEVSTACK_DIR": str(tmp_path),
    }
    cluster = private_cluster(env)
    assert cluster.password == "s@cret"
    assert cluster.url == "postgresql://postgres:s%40cret@127.0.0.1:54322/postgres"
    assert private_cluster({"DEVSTACK_DIR": str(tmp_path)}).password == "postgres"
