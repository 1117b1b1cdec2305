"""`make dev` brings the whole shop up offline: a learner can buy a lesson end to end.

Runs `devstack up` as `make dev` does, on free ports and a private cluster of its own, then
drives one purchase through it: the demo learner signs in through the Supabase stand-in with
supabase-py, the sidecar accepts that token and opens a Checkout Session at the Stripe
stand-in, the learner pays on the hosted page, the stand-in delivers the signed webhook to
the sidecar, SQL records the purchase, and the catalogue read through /rest/v1 shows the
lesson owned. Once frontend/ holds the Next.js app, its dev server must come up on SITE_URL's
port and render the catalogue from the Supabase stand-in. Ctrl-C (SIGINT) must stop every part.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from devstack import database
from devstack.cluster import PrivateCluster
from standins.serving import free_port
from supabase import Client, ClientOptions, create_client

JOINS = "00000000-0000-4000-8000-000000000002"


@dataclass(frozen=True)
class Devstack:
    process: subprocess.Popen[str]
    output: list[str]
    env: dict[str, str]
    cluster: PrivateCluster

    @property
    def sidecar(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"


def read_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


@pytest.fixture(scope="module")
def devstack() -> Iterator[Devstack]:
    if shutil.which("pg_config") is None and not Path("/usr/lib/postgresql").exists():
        pytest.skip("no Postgres server binaries on this machine for the private cluster")
    # under the project (not /tmp, which may be closed to the postgres user the cluster runs as)
    parent = database.ROOT / ".devstack"
    parent.mkdir(exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="test-", dir=parent))
    env_file = state / ".env"
    overrides = {
        "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
        "SUPABASE_URL": f"http://127.0.0.1:{free_port()}",
        "PORT": str(free_port()),
        "SITE_URL": f"http://127.0.0.1:{free_port()}",
        "MAIL_OUTBOX_URL": f"http://127.0.0.1:{free_port()}",
        "DEVSTACK_DIR": str(state),
        "DEVSTACK_DB_PORT": str(free_port()),
    }
    lines_in = [
        line
        for line in (database.ROOT / ".env.example").read_text().splitlines()
        if line.partition("=")[0] not in overrides
    ]
    env_file.write_text("\n".join([*lines_in, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *overrides)}
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.cli", "--env-file", str(env_file), "up"],
        cwd=database.ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process, lines), daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + 360  # the Next.js dev server compiles its first page
    while not any("Ctrl-C stops everything" in line for line in output):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("devstack did not come up:\n" + "".join(output))
        try:
            output.append(lines.get(timeout=1))
        except queue.Empty:
            continue
    cluster = PrivateCluster(state / "postgres", int(overrides["DEVSTACK_DB_PORT"]))
    stack = Devstack(process, output, {**env, **overrides, **_env_values(env_file)}, cluster)
    try:
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)


def _env_values(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )


def signed_in(devstack: Devstack) -> Client:
    """The demo learner, signed in with the password grant as the frontend would."""
    learner = create_client(
        devstack.env["SUPABASE_URL"],
        devstack.env["SUPABASE_PUBLISHABLE_KEY"],
        ClientOptions(auto_refresh_token=False, persist_session=False),
    )
    learner.auth.sign_in_with_password(
        {
            "email": devstack.env["DEMO_LEARNER_EMAIL"],
            "password": devstack.env["DEMO_LEARNER_PASSWORD"],
        }
    )
    return learner


def test_a_learner_buys_a_lesson_on_the_devstack(devstack: Devstack) -> None:
    with psycopg.connect(devstack.cluster.url) as conn:
        row = conn.execute(
            "select id from auth.users where email = %s", (devstack.env["DEMO_LEARNER_EMAIL"],)
        ).fetchone()
    assert row is not None, "the demo learner exists"
    learner = uuid.UUID(str(row[0]))
    client = signed_in(devstack)
    session_now = client.auth.get_session()
    assert session_now is not None
    assert session_now.user.id == str(learner)
    headers = {"Authorization": f"Bearer {session_now.access_token}"}
    # ES256, by the stand-in's key pair kept under the devstack's state dir (never committed)
    keys_file = devstack.cluster.data_dir.parent / "supabase" / "signing_keys.json"
    stored = {key["kid"] for key in json.loads(keys_file.read_text())["keys"]}
    token_header = jwt.get_unverified_header(session_now.access_token)
    assert token_header["alg"] == "ES256"
    assert token_header["kid"] in stored

    created = httpx.post(
        f"{devstack.sidecar}/v1/checkout/sessions", json={"lesson_id": JOINS}, headers=headers
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["url"].startswith(devstack.env["STRIPE_API_BASE"])

    paid = httpx.post(session["url"], data={"action": "pay"})
    assert paid.status_code == 303
    assert paid.headers["location"].startswith(
        devstack.env["SITE_URL"] + "/lessons/joins-without-fear?checkout=success"
    )

    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline and status != "paid":
        with psycopg.connect(devstack.cluster.url) as conn:
            found = conn.execute(
                "select status from public.purchased_lessons where user_id = %s and lesson_id = %s",
                (learner, JOINS),
            ).fetchone()
        status = found[0] if found else None
        time.sleep(0.2)
    assert status == "paid", (
        "the stand-in's webhook reached the sidecar and SQL recorded the purchase"
    )

    again = httpx.post(
        f"{devstack.sidecar}/v1/checkout/sessions", json={"lesson_id": JOINS}, headers=headers
    )
    assert again.status_code == 409

    catalog = client.rpc("lesson_catalog", {}).execute().data
    assert isinstance(catalog, list)
    owned = [row["id"] for row in catalog if isinstance(row, dict) and row["owned"]]
    assert owned == [JOINS], "the learner's own token reads their ownership through RLS"


def test_the_frontend_dev_server_serves_the_catalogue(devstack: Devstack) -> None:
    site = devstack.env["SITE_URL"]
    assert f"frontend         {site}" in "".join(devstack.output)
    home = httpx.get(f"{site}/", timeout=120)
    assert home.status_code in (200, 307, 308), home.text[:500]
    # server-rendered from lesson_catalog() through the Supabase stand-in named by SUPABASE_URL
    lessons = httpx.get(f"{site}/lessons", timeout=120)
    assert lessons.status_code == 200, lessons.text[:500]
    assert "Joins without fear" in lessons.text
    assert "Welcome to SQL" in lessons.text
    assert "Partitioning (coming soon)" not in lessons.text, "unpublished lessons stay hidden"


def test_a_password_reset_mail_lands_in_the_outbox_linking_to_the_site(
    devstack: Devstack,
) -> None:
    outbox = devstack.env["MAIL_OUTBOX_URL"]
    assert f"mail outbox      {outbox}" in "".join(devstack.output)
    email = devstack.env["DEMO_LEARNER_EMAIL"]
    asked = httpx.post(
        f"{devstack.env['SUPABASE_URL']}/auth/v1/recover",
        headers={"apikey": devstack.env["SUPABASE_PUBLISHABLE_KEY"]},
        json={"email": email},
        timeout=10,
    )
    assert (asked.status_code, asked.json()) == (200, {})
    listed = httpx.get(f"{outbox}/api/v1/messages", timeout=10).json()
    (mail,) = [m for m in listed["messages"] if m["To"][0]["Address"] == email]
    assert mail["Subject"] == "Reset your Lesson shop password", "the project's template"
    whole = httpx.get(f"{outbox}/api/v1/message/{mail['ID']}", timeout=10).json()
    assert f"{devstack.env['SITE_URL']}/api/auth/confirm?token_hash=" in whole["HTML"]
    assert "Reset your Lesson shop password" in httpx.get(f"{outbox}/", timeout=10).text


def test_ctrl_c_stops_every_part(devstack: Devstack) -> None:
    devstack.process.send_signal(signal.SIGINT)
    assert devstack.process.wait(timeout=30) == 0
    for url in (
        f"{devstack.env['SITE_URL']}/",
        f"{devstack.sidecar}/healthz",
        f"{devstack.env['STRIPE_API_BASE']}/v1/events",
        f"{devstack.env['SUPABASE_URL']}/auth/v1/health",
        f"{devstack.env['MAIL_OUTBOX_URL']}/api/v1/messages",
    ):
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)
    assert not devstack.cluster.running()
