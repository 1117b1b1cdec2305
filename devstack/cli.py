"""`make dev` / `uv run devstack up`: the whole shop running offline, in the foreground.

Starts, in order: Postgres (DATABASE_URL, else a private cluster on 54322), the schema and
demo data, the Supabase API stand-in on 54321 (/auth/v1, /rest/v1), the Stripe stand-in on
12111 delivering webhooks to the sidecar, the sidecar on 8000 and the Next.js dev server on
the port of SITE_URL (3000). Output of every part is streamed with its name in front; Ctrl-C
stops them all.
Configuration comes from `.env`, created from `.env.example` on the first run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from dotenv import dotenv_values
from psycopg import conninfo

from devstack import database, media
from devstack.cluster import DEFAULT_PASSWORD, DEFAULT_PORT, ClusterError, PrivateCluster

ENV_FILE = database.ROOT / ".env"
ENV_EXAMPLE = database.ROOT / ".env.example"
FRONTEND_DIR = database.ROOT / "frontend"
# Supabase's current key names, each with the legacy name still read in its place (a
# deprecation line at start-up says so).
LEGACY_NAMES = {
    "SUPABASE_PUBLISHABLE_KEY": "SUPABASE_ANON_KEY",
    "SUPABASE_SECRET_KEY": "SUPABASE_SERVICE_ROLE_KEY",
}

# The demo learner, created as Supabase Auth creates users: bcrypt password (pgcrypto's bf
# crypt writes the same $2a$ hashes GoTrue does), confirmed email, the email identity.
DEMO_LEARNER_SQL = """
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select
  '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
  %(email)s::text, extensions.crypt(%(password)s::text, extensions.gen_salt('bf', 10)), now(),
  '{"provider": "email", "providers": ["email"]}', '{}', now(), now()
where not exists (select 1 from auth.users where email = %(email)s::text)
"""


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    cwd: Path = database.ROOT
    # how long it may take to answer: Next.js compiles the page on the first request
    start_timeout: float = 60.0
    # run in its own process group, stopped as a group (npm → next → its workers)
    group: bool = False

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603  # argv built in this module
            self.argv,
            env=self.env,
            cwd=self.cwd,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=self.group,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (to the whole group if it has one), then SIGKILL after `timeout`."""
        process = self.process
        if process is None or process.poll() is not None:
            if process is not None and self.group:
                _signal_group(process.pid, signal.SIGKILL)  # leftovers of an exited leader
            return
        if self.group:
            _signal_group(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self.group:
            _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def load_env(env_file: Path = ENV_FILE) -> dict[str, str]:
    """`.env` (made from `.env.example` the first time) under whatever the shell already set."""
    if not env_file.exists():
        shutil.copyfile(ENV_EXAMPLE, env_file)
        print(f"devstack: created {env_file.name} from {ENV_EXAMPLE.name}")
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**values, **{k: v for k, v in os.environ.items() if k in values}}


def key(env: dict[str, str], name: str) -> str | None:
    """A Supabase API key by its current name, or by the legacy name it replaces."""
    return env.get(name) or env.get(LEGACY_NAMES[name]) or None


def deprecations(env: dict[str, str]) -> list[str]:
    """One line per legacy key name `.env` still uses in place of the current one."""
    return [
        f"{old} is deprecated: name it {new} (Supabase's current API keys)"
        for new, old in LEGACY_NAMES.items()
        if env.get(old) and not env.get(new)
    ]


def state_dir(env: dict[str, str]) -> Path:
    """Where the devstack keeps its state: the private cluster, the stand-in's signing keys."""
    return Path(env.get("DEVSTACK_DIR") or database.ROOT / ".devstack")


def private_cluster(env: dict[str, str]) -> PrivateCluster:
    """The private cluster, where DEVSTACK_DIR and DEVSTACK_DB_PORT (if set) put it.

    Its superuser password is the one in DATABASE_URL (`.env`), so the URL there works.
    """
    state = state_dir(env)
    port = int(env.get("DEVSTACK_DB_PORT") or DEFAULT_PORT)
    given = conninfo.conninfo_to_dict(env["DATABASE_URL"]) if env.get("DATABASE_URL") else {}
    password = str(given.get("password") or DEFAULT_PASSWORD)
    return PrivateCluster(state / "postgres", port, password)


def storage_dir(env: dict[str, str]) -> Path:
    """Where the Supabase stand-in keeps Storage's files: `.devstack/storage/` (DEVSTACK_DIR)."""
    return Path(env.get("DEVSTACK_DIR") or database.ROOT / ".devstack") / "storage"


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def prepare_database(env: dict[str, str], cluster: PrivateCluster) -> str:
    """The database the shop runs on, brought up to date with migrations and demo data."""
    url = os.environ.get("DATABASE_URL")
    if url:
        print("devstack: using DATABASE_URL from the environment")
    else:
        cluster.start()
        url = cluster.url
        print(f"devstack: private Postgres running on port {cluster.port} ({cluster.data_dir})")
    # one currency per storefront; SEED_CURRENCIES=multi adds the tests' euros and yen
    currencies = env.get("SEED_CURRENCIES") or os.environ.get("SEED_CURRENCIES", "one")
    applied = database.build(url, currencies=currencies)
    for path in applied:
        print(f"devstack: applied {path.name}")
    with psycopg.connect(url, autocommit=True) as conn:
        email = env.get("DEMO_LEARNER_EMAIL", "learner@example.com")
        password = env.get("DEMO_LEARNER_PASSWORD", "learner-password")
        conn.execute("create extension if not exists pgcrypto with schema extensions")
        conn.execute(DEMO_LEARNER_SQL, {"email": email, "password": password})
    return url


def pump(service: Service) -> None:
    """Stream one child's output, each line prefixed with its name."""
    assert service.process is not None
    assert service.process.stdout is not None
    for line in service.process.stdout:
        sys.stdout.write(f"{service.name:>8} | {line}")
        sys.stdout.flush()


def wait_healthy(service: Service) -> None:
    timeout = service.start_timeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}; see its output above"
            )
        try:
            if httpx.get(service.health_url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} did not answer {service.health_url} within {timeout:.0f}s")


def sidecar_url(env: dict[str, str]) -> str:
    return f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}"


def supabase_url(env: dict[str, str]) -> str:
    return (env.get("SUPABASE_URL") or "http://127.0.0.1:54321").rstrip("/")


def mail_outbox_url(env: dict[str, str]) -> str:
    """The mail outbox (Mailpit's API), on the Supabase CLI's port for it."""
    return (env.get("MAIL_OUTBOX_URL") or "http://127.0.0.1:54324").rstrip("/")


def site_url(env: dict[str, str]) -> str:
    return (env.get("SITE_URL") or "http://127.0.0.1:3000").rstrip("/")


def frontend_present() -> bool:
    """True once `frontend/` holds the Next.js app (its package.json has the scripts)."""
    package = json.loads((FRONTEND_DIR / "package.json").read_text())
    return {"dev", "build", "start"} <= set(package.get("scripts", {}))


def frontend(env: dict[str, str], script: str = "dev") -> Service:
    """The Next.js site on SITE_URL's port: `npm run dev` (make dev) or `npm run start` (e2e).

    npm puts frontend/node_modules/.bin first on PATH, so `next` runs on the pinned Node 22.
    The frontend gets its public Supabase settings, the sidecar's address and SITE_URL (its own
    origin: the API route accepts an Origin equal to it, and https there makes cookies Secure):
    the publishable key as SUPABASE_PUBLISHABLE_KEY and, under the name frontend/src reads
    today, SUPABASE_ANON_KEY (the publishable key acts as anon). Its one secret is
    SUPABASE_SECRET_KEY, read only by the account-deletion API route on the server (Auth's admin
    API needs it); no Stripe key, webhook secret, JWT secret or database URL.
    """
    site = urlsplit(site_url(env))
    host = site.hostname or "127.0.0.1"
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in env
        and k not in LEGACY_NAMES
        and k not in LEGACY_NAMES.values()
        and k != "SUPABASE_JWT_SECRET"
    }
    publishable = key(env, "SUPABASE_PUBLISHABLE_KEY")
    if publishable:
        child_env.update(
            {"SUPABASE_PUBLISHABLE_KEY": publishable, "SUPABASE_ANON_KEY": publishable}
        )
    secret = key(env, "SUPABASE_SECRET_KEY")
    if secret:
        child_env["SUPABASE_SECRET_KEY"] = secret
    if env.get("MEDIA_URL_TTL_SECONDS"):
        child_env["MEDIA_URL_TTL_SECONDS"] = env["MEDIA_URL_TTL_SECONDS"]
    child_env.update(
        {
            "SUPABASE_URL": supabase_url(env),
            "SIDECAR_URL": sidecar_url(env),
            "SITE_URL": site_url(env),
            "PORT": str(port_of(site_url(env))),
            "HOSTNAME": host,
            "NEXT_TELEMETRY_DISABLED": "1",
        }
    )
    npm = shutil.which("npm") or "npm"
    return Service(
        "frontend",
        [npm, "run", "--silent", script, "--", "--port", child_env["PORT"], "--hostname", host],
        site_url(env) + "/",
        child_env,
        cwd=FRONTEND_DIR,
        start_timeout=240.0,
        group=True,
    )


def services(
    env: dict[str, str], database_url: str, signing_keys_file: Path | None = None
) -> list[Service]:
    """The stand-ins and the sidecar. The Supabase stand-in keeps its ES256 key pairs in
    `signing_keys_file` (make dev: under .devstack/, so a restart keeps learners signed in);
    without one it makes a fresh key (the e2e run). Its Auth mails through the outbox, with
    the templates supabase/config.toml names, and links to SITE_URL."""
    python = sys.executable
    stripe_base = env["STRIPE_API_BASE"]
    sidecar = sidecar_url(env)
    supabase = supabase_url(env)
    child_env = {**os.environ, **env, "DATABASE_URL": database_url}
    for name in LEGACY_NAMES:  # the stand-in and the sidecar read the current names
        if (value := key(env, name)) is not None:
            child_env[name] = value
    keys_file = ["--signing-keys-file", str(signing_keys_file)] if signing_keys_file else []
    outbox = mail_outbox_url(env)
    return [
        Service(
            "mail",
            [python, "-m", "standins.mail", "--port", str(port_of(outbox))],
            f"{outbox}/api/v1/messages",
            child_env,
        ),
        # First: the sidecar's PostgREST adapter (when configured) and learners' sign-ins need it.
        # The database URL and the secret key reach it through DATABASE_URL / SUPABASE_SECRET_KEY
        # in its environment, not its argv, where `ps` would show them.
        Service(
            "supabase",
            [
                python,
                "-m",
                "standins.supabase",
                "--port",
                str(port_of(supabase)),
                "--public-url",
                supabase,
                "--storage-dir",
                str(storage_dir(env)),
                "--site-url",
                site_url(env),
                "--mail-outbox-url",
                outbox,
                "--auth-config",
                str(database.ROOT / "supabase" / "config.toml"),
                *keys_file,
            ],
            f"{supabase}/auth/v1/health",
            child_env,
        ),
        Service(
            "stripe",
            [
                python,
                "-m",
                "standins.stripe",
                "--port",
                str(port_of(stripe_base)),
                "--webhook",
                f"{sidecar}/v1/webhooks/stripe={env['STRIPE_WEBHOOK_SECRET']}",
            ],
            f"{stripe_base}/_standin/deliveries",
            child_env,
        ),
        Service("sidecar", [python, "-m", "sidecar.cli"], f"{sidecar}/healthz", child_env),
    ]


def seed_media(env: dict[str, str]) -> None:
    """The demo lessons' media, uploaded to the Supabase stand-in with the secret key."""
    secret = key(env, "SUPABASE_SECRET_KEY")
    if secret is None:
        raise RuntimeError("SUPABASE_SECRET_KEY is not set: the demo media cannot be uploaded")
    count = media.seed(supabase_url(env), secret)
    print(f"devstack: uploaded {count} demo media files to Storage ({media.BUCKET})")


def up(env_file: Path) -> int:
    env = load_env(env_file)
    cluster = private_cluster(env)
    try:
        database_url = prepare_database(env, cluster)
    except (ClusterError, RuntimeError, psycopg.Error) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1

    for line in deprecations(env):
        print(f"devstack: {line}", file=sys.stderr)
    parts = services(env, database_url, state_dir(env) / "supabase" / "signing_keys.json")
    if frontend_present():
        parts.append(frontend(env, "dev"))
    else:
        print("devstack: frontend/ has no Next.js app yet (no dev script); not starting it")
    taken = [s for s in parts if port_taken(port_of(s.health_url))]
    if taken:
        names = ", ".join(f"{s.name} ({port_of(s.health_url)})" for s in taken)
        print(
            f"devstack: ports already in use: {names}. Is `make dev` running already? "
            "Stop it (Ctrl-C) or free the ports.",
            file=sys.stderr,
        )
        return 1

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        for service in parts:
            service.start()
            threading.Thread(target=pump, args=(service,), daemon=True).start()
            wait_healthy(service)
        seed_media(env)
        print_ready(env, database_url, with_frontend=any(s.name == "frontend" for s in parts))
        while not stopping.is_set():
            if any(s.process is not None and s.process.poll() is not None for s in parts):
                print("devstack: a part stopped; shutting down", file=sys.stderr)
                return 1
            stopping.wait(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    finally:
        # a second Ctrl-C (or make and uv passing the first one on) must not cut the clean-up
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("devstack: stopping…", flush=True)
        for service in reversed(parts):
            service.stop()
        if not os.environ.get("DATABASE_URL"):
            cluster.stop()
        print("devstack: stopped")


def print_ready(env: dict[str, str], database_url: str, *, with_frontend: bool) -> None:
    safe_db = database_url.split("@")[-1]
    site = f"  frontend         {site_url(env)} (Next.js dev server)"
    print(
        "\n".join(
            [
                "",
                "devstack: the shop is running",
                f"  database         postgres @ {safe_db}",
                f"  Supabase API     {supabase_url(env)} (/auth/v1, /rest/v1)",
                f"  mail outbox      {mail_outbox_url(env)} (Auth's mail; Mailpit's API)",
                f"  Stripe stand-in  {env['STRIPE_API_BASE']} (hosted pages at /c/pay/…)",
                f"  sidecar          {sidecar_url(env)} (OpenAPI at /schema/openapi.json)",
                *([site] if with_frontend else []),
                f"  demo learner     {env.get('DEMO_LEARNER_EMAIL', 'learner@example.com')}",
                "  Ctrl-C stops everything.",
                "",
            ]
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    parser.add_argument("--env-file", type=Path, default=ENV_FILE, help="default: .env")
    sub.add_parser("up", help="run the whole shop offline in the foreground")
    sub.add_parser("db", help="start the private Postgres and bring it up to date, then exit")
    sub.add_parser("stop-db", help="stop the private Postgres")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.env_file)
    env = load_env(args.env_file)
    cluster = private_cluster(env)
    if args.command == "stop-db":
        cluster.stop()
        return 0
    try:
        url = prepare_database(env, cluster)
    except (ClusterError, RuntimeError, psycopg.Error) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
